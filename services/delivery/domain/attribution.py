"""Which plan an order or a coupon claim is credited to, and which market-local day an
event belongs to (SPEC section 5, "Performance").

An order at instant t is attributed to the latest plan whose message the customer
received in the 7 days before it: received means delivered, at an instant in
(t − 7 days, t]. Receipts are stored in buckets by UTC date of delivery, so an
attribution reads only the buckets that can hold such a receipt.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache

from schemas.markets import MARKET_TIME_ZONES, local_date, zone_of

ATTRIBUTION_WINDOW = timedelta(days=7)


@dataclass(frozen=True, order=True)
class Receipt:
    """A plan's message reaching a customer. Ordered by time, then plan id, so "the
    latest" has one answer even when two plans were delivered in the same instant."""

    received_at: datetime
    plan_id: str

    def __post_init__(self) -> None:
        # In UTC: aware datetimes sharing a zone compare and subtract by wall clock,
        # which is wrong across a DST change.
        object.__setattr__(self, "received_at", self.received_at.astimezone(UTC))


def attributed_plan(receipts: Iterable[Receipt], at: datetime) -> str | None:
    """The plan of the latest receipt in (at − 7 days, at], or None. The window is
    elapsed time (168 hours), whatever the clocks did meanwhile."""
    end = at.astimezone(UTC)
    start = end - ATTRIBUTION_WINDOW
    candidates = [r for r in receipts if start < r.received_at <= end]
    return max(candidates).plan_id if candidates else None


def receipt_days(at: datetime) -> list[date]:
    """The UTC dates of the receipt buckets that can hold a receipt attributable at `at`."""
    last_instant = at.astimezone(UTC)
    first = (last_instant - ATTRIBUTION_WINDOW).date()
    last = last_instant.date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def receipt_day(received_at: datetime) -> date:
    """The UTC date of the bucket a receipt is kept in."""
    return received_at.astimezone(UTC).date()


def remember(receipts: Iterable[Receipt], new: Receipt) -> list[Receipt]:
    """The receipts with `new` added; a plan is kept once, at its first delivery, so a
    repeated or re-read MessageDelivered changes nothing whatever the order."""
    by_plan: dict[str, Receipt] = {}
    for receipt in (*receipts, new):
        kept = by_plan.get(receipt.plan_id)
        if kept is None or receipt.received_at < kept.received_at:
            by_plan[receipt.plan_id] = receipt
    return sorted(by_plan.values())


@lru_cache(maxsize=32)
def market_zone(market: str | None) -> tzinfo:
    """The zone whose calendar a seller's days follow; UTC while the market is unknown."""
    if market is None or market not in MARKET_TIME_ZONES:
        return UTC
    return zone_of(market)


def local_day(instant: datetime, market: str | None) -> date:
    """The market-local date of `instant` (the UTC date when the market is unknown)."""
    if market is None or market not in MARKET_TIME_ZONES:
        return instant.astimezone(UTC).date()
    return local_date(instant, market)
