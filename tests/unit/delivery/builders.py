"""Small builders for performance tests: events with only the fields a test cares about.

Event ids are derived from the content, so building the same event twice gives an equal
event — what a redelivery looks like.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from schemas.customer import CouponClaimed, OrderPlaced
from schemas.delivery import DeliveryProgressed, SuppressionReason
from schemas.engagement import MessageClicked, MessageDelivered, MessageFailed, MessageRead

SELLER = "s1"


def _id(*parts: object) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, "/".join(str(part) for part in parts))


def _message(kind: str, at: datetime, plan: str, customer: str, seller: str) -> dict[str, object]:
    return {
        "event_id": _id(kind, at.isoformat(), plan, customer, seller),
        "occurred_at": at,
        "message_id": f"m-{plan}-{customer}",
        "plan_id": plan,
        "seller_id": seller,
        "customer_id": customer,
    }


def delivered(at: datetime, plan: str, customer: str, seller: str = SELLER) -> MessageDelivered:
    return MessageDelivered(**_message("delivered", at, plan, customer, seller), delivered_at=at)  # type: ignore[arg-type]


def read(at: datetime, plan: str, customer: str, seller: str = SELLER) -> MessageRead:
    return MessageRead(**_message("read", at, plan, customer, seller), read_at=at)  # type: ignore[arg-type]


def clicked(at: datetime, plan: str, customer: str, seller: str = SELLER) -> MessageClicked:
    return MessageClicked(
        **_message("clicked", at, plan, customer, seller),  # type: ignore[arg-type]
        clicked_at=at,
        target="product_list",
    )


def failed(at: datetime, plan: str, customer: str, seller: str = SELLER) -> MessageFailed:
    return MessageFailed(**_message("failed", at, plan, customer, seller), reason="unreachable")  # type: ignore[arg-type]


def order(
    at: datetime, customer: str, order_id: str, gmv: float, seller: str = SELLER
) -> OrderPlaced:
    return OrderPlaced(
        event_id=_id("order", order_id, at.isoformat()),
        occurred_at=at,
        seller_id=seller,
        customer_id=customer,
        order_id=order_id,
        gmv=gmv,
        currency="THB",
        product_ids=["p1"],
    )


def claim(at: datetime, customer: str, coupon: str = "cp1", seller: str = SELLER) -> CouponClaimed:
    return CouponClaimed(
        event_id=_id("claim", at.isoformat(), customer, coupon),
        occurred_at=at,
        seller_id=seller,
        customer_id=customer,
        coupon_id=coupon,
    )


def progressed(
    at: datetime,
    plan: str,
    *,
    segment: str = "repeat_customers",
    recipients: int,
    sent: int,
    suppressed: dict[SuppressionReason, int] | None = None,
    done: bool = False,
    seller: str = SELLER,
) -> DeliveryProgressed:
    return DeliveryProgressed(
        event_id=_id("progress", plan, recipients, done),
        occurred_at=at,
        seller_id=seller,
        plan_id=plan,
        plan_type="one_time",
        segment_id=segment,
        as_of=at.date(),
        last_customer_id=None,
        recipients=recipients,
        sent=sent,
        suppressed=suppressed or {},
        done=done,
    )
