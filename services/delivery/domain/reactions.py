"""What the chat system does with one broadcast message, as the simulator plays it.

Every decision is a uniform number drawn from a hash of (decision, message_id), so the
same message always gets the same reactions: a replayed or redelivered message makes
the same events, with the same event ids, which consumers de-duplicate.

The rates are a funnel: `fail` of all messages are never delivered; of the delivered,
`read` are read and `block` prompt a block; of the read messages that have a button,
`click` are clicked; of the clicks, `order` lead to an order (with the coupon claimed
when the message carried one).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from schemas.customer import CouponClaimed, OrderPlaced
from schemas.engagement import (
    MessageClicked,
    MessageDelivered,
    MessageFailed,
    MessageRead,
    ShopBlocked,
)
from schemas.envelope import Event
from schemas.outbound import OutboundMessage
from schemas.types import Rate

# Event ids are uuid5 names under this namespace: stable across runs and processes.
_EVENT_IDS = uuid.UUID("6f1d3c0e-5a43-4d8e-9a57-2b8f0c1e7d21")
_SPAN = float(2**64)
FAILURE_REASON = "recipient_unreachable"


class ReactionRates(BaseModel):
    """The simulated chat system's behaviour, each a fraction 0-1 (see the module note)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    read: Rate = 0.45
    click: Rate = 0.10
    block: Rate = 0.002
    fail: Rate = 0.0
    order: Rate = 0.20


@dataclass(frozen=True)
class Reaction:
    """What happens to one message; every later step implies `delivered`."""

    delivered: bool
    read: bool
    clicked: bool
    blocked: bool
    ordered: bool


NOTHING = Reaction(delivered=False, read=False, clicked=False, blocked=False, ordered=False)


def uniform(message_id: str, decision: str) -> float:
    """A number in [0, 1) that depends only on the message and the decision's name."""
    digest = hashlib.sha256(f"{decision}\x00{message_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SPAN


def decide(message_id: str, has_button: bool, rates: ReactionRates) -> Reaction:
    if uniform(message_id, "fail") < rates.fail:
        return NOTHING
    read = uniform(message_id, "read") < rates.read
    clicked = has_button and read and uniform(message_id, "click") < rates.click
    return Reaction(
        delivered=True,
        read=read,
        clicked=clicked,
        blocked=uniform(message_id, "block") < rates.block,
        ordered=clicked and uniform(message_id, "order") < rates.order,
    )


def _after(message_id: str, step: str, start: datetime, low_s: float, high_s: float) -> datetime:
    # A deterministic delay between two steps, so the same message keeps its timeline.
    seconds = low_s + (high_s - low_s) * uniform(message_id, f"delay:{step}")
    return start + timedelta(seconds=round(seconds, 3))


def _event_id(message_id: str, step: str) -> uuid.UUID:
    return uuid.uuid5(_EVENT_IDS, f"{step}:{message_id}")


def order_value(message_id: str) -> float:
    """A plausible basket, 50-1000 in the seller's currency."""
    return round(50 + 950 * uniform(message_id, "gmv"), 2)


def reaction_events(
    message: OutboundMessage, rates: ReactionRates, sent_at: datetime, currency: str
) -> list[Event]:
    """The chat system's events for one message handed to it at `sent_at`, in the order
    they happen. Delays are seconds to minutes: a short session right after sending."""
    reaction = decide(message.message_id, message.button is not None, rates)
    mid = message.message_id
    if not reaction.delivered:
        failed_at = _after(mid, "fail", sent_at, 1, 5)
        return [
            MessageFailed(
                event_id=_event_id(mid, "failed"),
                occurred_at=failed_at,
                message_id=mid,
                plan_id=message.plan_id,
                seller_id=message.seller_id,
                customer_id=message.customer_id,
                reason=FAILURE_REASON,
            )
        ]
    delivered_at = _after(mid, "deliver", sent_at, 0.2, 5)
    events: list[Event] = [
        MessageDelivered(
            event_id=_event_id(mid, "delivered"),
            occurred_at=delivered_at,
            message_id=mid,
            plan_id=message.plan_id,
            seller_id=message.seller_id,
            customer_id=message.customer_id,
            delivered_at=delivered_at,
        )
    ]
    if reaction.read:
        events.extend(_read(message, reaction, delivered_at, currency))
    if reaction.blocked:
        events.append(
            ShopBlocked(
                event_id=_event_id(mid, "blocked"),
                occurred_at=_after(mid, "block", delivered_at, 5, 120),
                seller_id=message.seller_id,
                customer_id=message.customer_id,
                message_id=mid,
            )
        )
    return sorted(events, key=lambda e: e.occurred_at)


def _read(
    message: OutboundMessage, reaction: Reaction, delivered_at: datetime, currency: str
) -> list[Event]:
    mid = message.message_id
    read_at = _after(mid, "read", delivered_at, 5, 120)
    events: list[Event] = [
        MessageRead(
            event_id=_event_id(mid, "read"),
            occurred_at=read_at,
            message_id=mid,
            plan_id=message.plan_id,
            seller_id=message.seller_id,
            customer_id=message.customer_id,
            read_at=read_at,
        )
    ]
    if not reaction.clicked or message.button is None:
        return events
    clicked_at = _after(mid, "click", read_at, 1, 30)
    events.append(
        MessageClicked(
            event_id=_event_id(mid, "clicked"),
            occurred_at=clicked_at,
            message_id=mid,
            plan_id=message.plan_id,
            seller_id=message.seller_id,
            customer_id=message.customer_id,
            clicked_at=clicked_at,
            target=message.button.type,
        )
    )
    if reaction.ordered:
        events.extend(_order(message, clicked_at, currency))
    return events


def _order(message: OutboundMessage, clicked_at: datetime, currency: str) -> list[Event]:
    mid = message.message_id
    coupons = [message.coupon_id] if message.coupon_id else []
    claims: list[Event] = [
        CouponClaimed(
            event_id=_event_id(mid, f"coupon:{coupon}"),
            occurred_at=_after(mid, "claim", clicked_at, 1, 10),
            seller_id=message.seller_id,
            customer_id=message.customer_id,
            coupon_id=coupon,
        )
        for coupon in coupons
    ]
    order = OrderPlaced(
        event_id=_event_id(mid, "order"),
        occurred_at=_after(mid, "order", clicked_at, 10, 300),
        seller_id=message.seller_id,
        customer_id=message.customer_id,
        order_id=f"order-{mid}"[:128],
        gmv=order_value(mid),
        currency=currency,
        product_ids=list(message.product_ids[:1]),
        coupon_ids=coupons,
    )
    return [*claims, order]
