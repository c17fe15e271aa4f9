"""What one (seller, customer) pair did: the state segments, conditions and triggers read.

One `Relationship` is stored per pair (about 1,000,000 of them), so it keeps times, counts
and small capped collections rather than histories. `evolve(rel, event)` folds one event:

- Idempotent: folding an event again changes nothing. Times merge by max (min for the first
  order), orders are keyed by order_id, capped collections merge by latest time per id.
- Order-independent: the state depends on the set of events, not their arrival order —
  with one documented exception: a new order that arrives after an order placed at the same
  time or later was already archived is taken for a redelivery (see `_fold_order`).

Where only the latest time of an activity is kept (follow, unfollow, view, chat, cart add),
a query "before instant C" cannot see an earlier occurrence hidden behind a later one:
such an activity at or after C reads as "none before C". Orders keep each time, so order
queries are exact for every cut-off after the latest archived order.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from functools import reduce

from pydantic import AwareDatetime, Field

from schemas.customer import (
    CartAdded,
    ChatStarted,
    CouponClaimed,
    OrderPlaced,
    ProductViewed,
    ShopFollowed,
    ShopUnfollowed,
)
from schemas.engagement import MessageClicked, MessageRead
from schemas.envelope import StrictModel
from schemas.outbound import OutboundMessage
from schemas.types import Identifier, NonNegativeFloat, NonNegativeInt

# Orders are kept one by one for 400 days before the latest order: the 365-day spend window
# of high_value_customers, plus 35 days so a recompute as of a recent past day (or a late
# event) still sees every order of its window, plus slack for DST days.
ORDER_RETENTION = timedelta(days=400)
# A pair with more orders than this inside the horizon keeps the latest ones; the oldest are
# archived early (still in order_count, no longer in windowed counts and spend).
MAX_RETAINED_ORDERS = 200
# ordered_product matches among the most recently ordered distinct products.
MAX_ORDERED_PRODUCTS = 20
# received_plan / read_plan / clicked_plan match among the most recent plans of each kind:
# at the default frequency cap (2 a week) 20 plans reach back about ten weeks.
MAX_PLANS = 20
MAX_CLAIMED_COUPONS = 10

ActivityEvent = (
    ShopFollowed
    | ShopUnfollowed
    | ProductViewed
    | CartAdded
    | OrderPlaced
    | ChatStarted
    | CouponClaimed
)
EngagementEvent = OutboundMessage | MessageRead | MessageClicked
RelationshipEvent = ActivityEvent | EngagementEvent
"""Every event `evolve` folds: crm.customer-activity, plus a plan reaching the customer."""


class OrderFact(StrictModel):
    """One order as the relationship keeps it."""

    order_id: Identifier
    placed_at: AwareDatetime
    gmv: NonNegativeFloat


RecentIds = Mapping[Identifier, AwareDatetime]
"""Id → the latest time it happened, holding at most a cap of the most recent ids."""


class Relationship(StrictModel):
    """One seller-customer pair. Times are in UTC; collections are sorted, so two
    relationships folded from the same events are equal and serialise to the same bytes."""

    followed_at: AwareDatetime | None = None
    """The latest follow."""
    unfollowed_at: AwareDatetime | None = None
    """The latest unfollow; a follow and an unfollow at the same instant leave an unfollow."""
    first_order_at: AwareDatetime | None = None
    orders: tuple[OrderFact, ...] = ()
    """Orders within ORDER_RETENTION of the latest (at most MAX_RETAINED_ORDERS), sorted by
    (placed_at, order_id)."""
    archived_order_count: NonNegativeInt = 0
    """Orders that left `orders`: all of them are older than every retained order."""
    last_archived_order_at: AwareDatetime | None = None
    last_cart_add_at: AwareDatetime | None = None
    last_view_at: AwareDatetime | None = None
    last_chat_at: AwareDatetime | None = None
    ordered_products: RecentIds = Field(default_factory=dict)
    received_plans: RecentIds = Field(default_factory=dict)
    """Plans whose OutboundMessage was sent to the customer, delivered or not."""
    read_plans: RecentIds = Field(default_factory=dict)
    clicked_plans: RecentIds = Field(default_factory=dict)
    claimed_coupons: RecentIds = Field(default_factory=dict)

    @property
    def order_count(self) -> int:
        """Every distinct order folded, archived or retained."""
        return self.archived_order_count + len(self.orders)

    @property
    def last_order_at(self) -> datetime | None:
        return self.orders[-1].placed_at if self.orders else self.last_archived_order_at

    @property
    def is_follower(self) -> bool:
        return _follows(self.followed_at, self.unfollowed_at)

    def is_follower_at(self, cutoff: datetime) -> bool:
        """Following just before `cutoff`, judged from follows and unfollows before it."""
        followed = self.followed_at if _before(self.followed_at, cutoff) else None
        unfollowed = self.unfollowed_at if _before(self.unfollowed_at, cutoff) else None
        return _follows(followed, unfollowed)

    def has_ordered_before(self, cutoff: datetime) -> bool:
        return _before(self.first_order_at, cutoff)

    def order_count_before(self, cutoff: datetime) -> int:
        """Orders placed before `cutoff`. Archived orders all count: exact for any cut-off
        after the latest archived order, which is over 400 days before the latest order."""
        retained = sum(1 for order in self.orders if order.placed_at < cutoff)
        return self.archived_order_count + retained

    def orders_between(self, start: datetime, end: datetime) -> int:
        """Retained orders placed in [start, end)."""
        return sum(1 for order in self.orders if start <= order.placed_at < end)

    def spend_between(self, start: datetime, end: datetime) -> float:
        """GMV of retained orders placed in [start, end), summed in a fixed order."""
        return math.fsum(order.gmv for order in self.orders if start <= order.placed_at < end)

    def last_order_before(self, cutoff: datetime) -> datetime | None:
        return self._last_order(lambda at: at < cutoff)

    def last_order_until(self, instant: datetime) -> datetime | None:
        """The latest order placed at or before `instant`."""
        return self._last_order(lambda at: at <= instant)

    def _last_order(self, counts: Callable[[datetime], bool]) -> datetime | None:
        for order in reversed(self.orders):
            if counts(order.placed_at):
                return order.placed_at
        if self.last_archived_order_at is not None and counts(self.last_archived_order_at):
            return self.last_archived_order_at
        # Only archived orders remain, all older than the horizon: the first order is the
        # one time still known for certain to fall before the cut-off.
        if self.first_order_at is not None and counts(self.first_order_at):
            return self.first_order_at
        return None


EMPTY = Relationship()
"""The relationship of a pair nothing has happened to yet."""


def to_stored_json(rel: Relationship) -> bytes:
    """The compact stored form: fields still at their defaults are left out (most pairs
    only followed or viewed, so this is most of the saving)."""
    return rel.model_dump_json(exclude_defaults=True).encode()


def from_stored_json(raw: bytes | str) -> Relationship:
    return Relationship.model_validate_json(raw)


def evolve(rel: Relationship, event: RelationshipEvent) -> Relationship:
    """`rel` with `event` folded in; folding the same event again gives the same state."""
    at = event.occurred_at.astimezone(UTC)
    match event:
        case ShopFollowed():
            return rel.model_copy(update={"followed_at": _later(rel.followed_at, at)})
        case ShopUnfollowed():
            return rel.model_copy(update={"unfollowed_at": _later(rel.unfollowed_at, at)})
        case ProductViewed():
            return rel.model_copy(update={"last_view_at": _later(rel.last_view_at, at)})
        case CartAdded():
            return rel.model_copy(update={"last_cart_add_at": _later(rel.last_cart_add_at, at)})
        case ChatStarted():
            return rel.model_copy(update={"last_chat_at": _later(rel.last_chat_at, at)})
        case CouponClaimed():
            coupons = remember(rel.claimed_coupons, event.coupon_id, at, MAX_CLAIMED_COUPONS)
            return rel.model_copy(update={"claimed_coupons": coupons})
        case OrderPlaced():
            return _fold_order(rel, event, at)
        case OutboundMessage():
            received = remember(rel.received_plans, event.plan_id, at, MAX_PLANS)
            return rel.model_copy(update={"received_plans": received})
        case MessageRead():
            read_at = event.read_at.astimezone(UTC)
            read = remember(rel.read_plans, event.plan_id, read_at, MAX_PLANS)
            return rel.model_copy(update={"read_plans": read})
        case MessageClicked():
            clicked_at = event.clicked_at.astimezone(UTC)
            clicked = remember(rel.clicked_plans, event.plan_id, clicked_at, MAX_PLANS)
            return rel.model_copy(update={"clicked_plans": clicked})
    raise TypeError(f"a relationship does not fold {type(event).__name__}")


def fold(events: Iterable[RelationshipEvent], rel: Relationship = EMPTY) -> Relationship:
    """Every event folded into `rel`, in the order given."""
    return reduce(evolve, events, rel)


def remember(recent: RecentIds, key: str, at: datetime, cap: int) -> dict[str, datetime]:
    """`recent` with `key` seen at `at`, keeping the `cap` ids seen latest.

    Ids rank by (latest time, id). An id that falls out ranks below every id kept, and the
    cut only rises as ids arrive, so it could never have come back: the result depends on
    which (id, time) pairs were seen, not on their order.
    """
    merged = dict(recent)
    merged[key] = max(merged.get(key, at), at)
    if len(merged) > cap:
        ranked = sorted(merged.items(), key=lambda item: (item[1], item[0]), reverse=True)
        merged = dict(ranked[:cap])
    return dict(sorted(merged.items()))


def _fold_order(rel: Relationship, event: OrderPlaced, at: datetime) -> Relationship:
    products: RecentIds = rel.ordered_products
    for product_id in event.product_ids:
        products = remember(products, product_id, at, MAX_ORDERED_PRODUCTS)
    rel = rel.model_copy(
        update={"ordered_products": products, "first_order_at": _earlier(rel.first_order_at, at)}
    )
    incoming = OrderFact(order_id=event.order_id, placed_at=at, gmv=event.gmv)
    others = [order for order in rel.orders if order.order_id != event.order_id]
    if len(others) < len(rel.orders):
        # A redelivery. If upstream changed the order, keep the greater (placed_at, gmv),
        # so the outcome does not depend on which version came last.
        known = next(order for order in rel.orders if order.order_id == event.order_id)
        kept = max(known, incoming, key=lambda order: (order.placed_at, order.gmv))
        return _retain(rel, [*others, kept])
    if rel.last_archived_order_at is not None and at <= rel.last_archived_order_at:
        # Archived orders are forgotten by id, so an unknown order no later than the latest
        # archived one may be one of them coming again: it is not counted a second time.
        # The price: a genuinely new order arriving that late (over 400 days behind a later
        # order, or behind 200 newer ones) is missed — the one exception to order-independence.
        return rel
    return _retain(rel, [*rel.orders, incoming])


def _retain(rel: Relationship, orders: list[OrderFact]) -> Relationship:
    ordered = sorted(orders, key=lambda order: (order.placed_at, order.order_id))
    horizon = ordered[-1].placed_at - ORDER_RETENTION
    beyond_horizon = sum(1 for order in ordered if order.placed_at < horizon)
    # Orders leave oldest first, whether by age or by the count cap, which keeps every
    # archived order older than every retained one.
    leaving = max(beyond_horizon, len(ordered) - MAX_RETAINED_ORDERS)
    if leaving == 0:
        return rel.model_copy(update={"orders": tuple(ordered)})
    archived_at = ordered[leaving - 1].placed_at
    return rel.model_copy(
        update={
            "orders": tuple(ordered[leaving:]),
            "archived_order_count": rel.archived_order_count + leaving,
            "last_archived_order_at": _later(rel.last_archived_order_at, archived_at),
        }
    )


def _follows(followed_at: datetime | None, unfollowed_at: datetime | None) -> bool:
    return followed_at is not None and (unfollowed_at is None or followed_at > unfollowed_at)


def _before(instant: datetime | None, cutoff: datetime) -> bool:
    return instant is not None and instant < cutoff


def _later(current: datetime | None, at: datetime) -> datetime:
    return at if current is None else max(current, at)


def _earlier(current: datetime | None, at: datetime) -> datetime:
    return at if current is None else min(current, at)
