"""The seven built-in segments (SPEC section 5), judged as of day D in the seller's market.

Six depend on one relationship alone; high_value_customers ranks a whole shop. `memberships`
computes all seven in one pass over a seller's relationships: each relationship is judged
once, and only the spend of customers who spent is held for the ranking at the end.

"In the last N days" and "before D" follow `cutoff.Cutoff`: [D−N 00:00, D 00:00)
market-local, and only facts before D 00:00 count.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Literal, get_args

from services.customers.domain.cutoff import Cutoff, cutoff
from services.customers.domain.relationship import Relationship

SegmentId = Literal[
    "new_customers",
    "repeat_customers",
    "high_value_customers",
    "lapsed_customers",
    "followers_not_purchased",
    "cart_abandoners",
    "engaged_visitors",
]
BUILTIN_SEGMENT_IDS: tuple[SegmentId, ...] = get_args(SegmentId)

NEW_CUSTOMER_DAYS = 30
REPEAT_DAYS = 180
REPEAT_MIN_ORDERS = 2
HIGH_VALUE_DAYS = 365
HIGH_VALUE_PERCENT = 10
LAPSED_DAYS = 90
CART_DAYS = 7
ENGAGED_DAYS = 30


def is_new_customer(rel: Relationship, cut: Cutoff) -> bool:
    """First order in the last 30 days."""
    return cut.in_last_days(rel.first_order_at, NEW_CUSTOMER_DAYS)


def is_repeat_customer(rel: Relationship, cut: Cutoff) -> bool:
    """2 or more orders in the last 180 days."""
    return rel.orders_between(cut.days_back(REPEAT_DAYS), cut.at) >= REPEAT_MIN_ORDERS


def is_lapsed_customer(rel: Relationship, cut: Cutoff) -> bool:
    """Ordered before, but not in the last 90 days."""
    last_order = rel.last_order_before(cut.at)
    return last_order is not None and last_order < cut.days_back(LAPSED_DAYS)


def is_follower_not_purchased(rel: Relationship, cut: Cutoff) -> bool:
    """Follows the shop, never ordered."""
    return rel.is_follower_at(cut.at) and not rel.has_ordered_before(cut.at)


def is_cart_abandoner(rel: Relationship, cut: Cutoff) -> bool:
    """Added to cart in the last 7 days, no order since the latest cart add.

    An order at the very instant of the cart add counts as "since". A later cart add
    restarts the wait: the question is whether the cart as last touched led to an order.
    """
    cart_add = cut.before(rel.last_cart_add_at)
    if cart_add is None or not cut.in_last_days(cart_add, CART_DAYS):
        return False
    return rel.orders_between(cart_add, cut.at) == 0


def is_engaged_visitor(rel: Relationship, cut: Cutoff) -> bool:
    """Viewed a product or chatted in the last 30 days, never ordered."""
    engaged = cut.in_last_days(rel.last_view_at, ENGAGED_DAYS) or cut.in_last_days(
        rel.last_chat_at, ENGAGED_DAYS
    )
    return engaged and not rel.has_ordered_before(cut.at)


def high_value_spend(rel: Relationship, cut: Cutoff) -> float:
    """The spend high_value_customers ranks by: GMV of orders in the last 365 days."""
    return rel.spend_between(cut.days_back(HIGH_VALUE_DAYS), cut.at)


RELATIONSHIP_RULES: Mapping[SegmentId, Callable[[Relationship, Cutoff], bool]] = {
    "new_customers": is_new_customer,
    "repeat_customers": is_repeat_customer,
    "lapsed_customers": is_lapsed_customer,
    "followers_not_purchased": is_follower_not_purchased,
    "cart_abandoners": is_cart_abandoner,
    "engaged_visitors": is_engaged_visitor,
}
"""Every built-in segment but high_value_customers, which needs the whole shop."""


def high_value_threshold(spend_by_customer: Mapping[str, float]) -> float:
    """The spend a high_value_customers member must exceed: 0.0 when every spender has a
    place (see `top_spenders`), else the spend of the first customer left out."""
    spenders = [spend for spend in spend_by_customer.values() if spend > 0]
    places = -(-len(spenders) * HIGH_VALUE_PERCENT // 100)
    if places >= len(spenders):
        return 0.0
    return sorted(spenders, reverse=True)[places]


def top_spenders(spend_by_customer: Mapping[str, float]) -> set[str]:
    """high_value_customers: the top 10% of the shop's spending customers, ties left out.

    The shop's customers here are those with spend > 0 in the window; n of them give
    k = ceil(n × 10%) places (so any shop with a spender has at least one place). Ranking
    spend from highest, members are the customers who spend strictly more than the first
    customer left out, the (k+1)-th. Customers tied across the cut are all left out, so
    the segment never exceeds its k places: equal spenders are never split by an
    arbitrary order, and a shop where everyone spent the same has no top 10%.
    """
    threshold = high_value_threshold(spend_by_customer)
    return {
        customer for customer, spend in spend_by_customer.items() if spend > 0 and spend > threshold
    }


class BuiltinTally:
    """The seven built-in segments, tallied one relationship at a time: a scan that reads a
    seller's customers page by page adds each page, then asks for the members once.

    Each relationship is judged once and dropped; only the spend of customers who spent is
    held for the high_value_customers ranking at the end.
    """

    def __init__(self, cut: Cutoff) -> None:
        self.cut = cut
        self._members: dict[SegmentId, set[str]] = {s: set() for s in BUILTIN_SEGMENT_IDS}
        self._spend_by_customer: dict[str, float] = {}

    def add(self, customer_id: str, rel: Relationship) -> None:
        cut = self.cut
        for segment, belongs in RELATIONSHIP_RULES.items():
            if belongs(rel, cut):
                self._members[segment].add(customer_id)
        spend = high_value_spend(rel, cut)
        if spend > 0:
            self._spend_by_customer[customer_id] = spend

    def members(self) -> dict[SegmentId, set[str]]:
        """Every built-in segment's members over the relationships added so far."""
        found = {segment: set(customers) for segment, customers in self._members.items()}
        found["high_value_customers"] = top_spenders(self._spend_by_customer)
        return found

    def high_value_threshold(self) -> float:
        """The spend high_value_customers members exceed, over the relationships so far:
        kept with the day's memberships, it judges one customer at a firing."""
        return high_value_threshold(self._spend_by_customer)


def memberships(
    relationships: Iterable[tuple[str, Relationship]], as_of: date, market: str
) -> dict[SegmentId, set[str]]:
    """Members of every built-in segment as of `as_of`, from one pass over a seller's
    (customer_id, relationship) pairs."""
    tally = BuiltinTally(cutoff(as_of, market))
    for customer_id, rel in relationships:
        tally.add(customer_id, rel)
    return tally.members()


def members(
    segment_id: SegmentId,
    relationships: Iterable[tuple[str, Relationship]],
    as_of: date,
    market: str,
) -> set[str]:
    """Members of one built-in segment as of `as_of`."""
    if segment_id not in BUILTIN_SEGMENT_IDS:
        raise ValueError(f"unknown built-in segment {segment_id!r}")
    if segment_id == "high_value_customers":
        return memberships(relationships, as_of, market)[segment_id]
    cut = cutoff(as_of, market)
    belongs = RELATIONSHIP_RULES[segment_id]
    return {customer_id for customer_id, rel in relationships if belongs(rel, cut)}
