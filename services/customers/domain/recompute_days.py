"""When segment memberships are due (SPEC section 5): daily at 00:00 market-local, as of
the day that midnight begins, so a size read during day D is "as of yesterday" — over the
events before D 00:00.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from schemas.markets import local_date
from services.customers.domain.cutoff import cutoff


def local_today(market: str, now: datetime) -> date:
    """The market-local date at `now`: the day D a recompute at `now` is as of."""
    return local_date(now, market)


def next_local_midnight(market: str, now: datetime) -> datetime:
    """The first 00:00 market-local strictly after `now`, in UTC: when the next day's
    memberships come due. Across a DST change the wait is 23 or 25 hours."""
    return cutoff(local_today(market, now) + timedelta(days=1), market).at


def behind(latest_as_of: date | None, today: date) -> bool:
    """Whether a seller's memberships lag today's: never computed, or as of an earlier day."""
    return latest_as_of is None or latest_as_of < today
