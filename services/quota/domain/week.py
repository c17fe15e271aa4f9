"""The quota week: the ISO week (Monday 00:00 to Monday 00:00) in the seller's market time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

from schemas.markets import MARKET_TIME_ZONES

# Counters outlive their week so the API can show recent weeks and a late
# release still finds its reservation; the ledger keeps the history for good.
KEYS_OUTLIVE_WEEK_BY = timedelta(weeks=4)


@dataclass(frozen=True)
class Week:
    label: str
    """ISO week 'YYYY-Www'."""
    starts_at: datetime
    """Monday 00:00 market-local, inclusive (in UTC, so arithmetic is in real hours)."""
    ends_at: datetime
    """The next Monday 00:00 market-local, exclusive (in UTC)."""


def market_zone(market: str | None) -> tzinfo:
    """The market's time zone; UTC for a seller whose market is not known."""
    return UTC if market is None else ZoneInfo(MARKET_TIME_ZONES[market])


def week_of(instant: datetime, market: str | None) -> Week:
    """The week that contains `instant` (an aware datetime) in `market`'s time zone."""
    if instant.tzinfo is None:
        raise ValueError("week_of needs an aware datetime")
    year, number, _ = instant.astimezone(market_zone(market)).isocalendar()
    return week_named(f"{year}-W{number:02d}", market)


@lru_cache(maxsize=4096)  # a handful of weeks are live at a time; callers ask per request
def week_named(label: str, market: str | None) -> Week:
    """The week 'YYYY-Www' of `market`, with its market-local bounds."""
    year, number = int(label[:4]), int(label[6:])
    monday = date.fromisocalendar(year, number, 1)
    zone = market_zone(market)
    # Midnight exists in every market zone (DST moves at 01:00-03:00), so a
    # week is 168 hours, or 167/169 across a clock change.
    starts_at = datetime.combine(monday, time(0), tzinfo=zone)
    ends_at = datetime.combine(monday + timedelta(days=7), time(0), tzinfo=zone)
    return Week(label, starts_at.astimezone(UTC), ends_at.astimezone(UTC))


def keys_expire_at(week: Week, last_write: datetime) -> datetime:
    """When a week's counters may go: a few weeks after the week ends, or after the
    last write to them for a week already over (a late entry must not vanish at once).

    A rebuild applies the same rule with the time of the week's last ledger fact,
    so it restores exactly the weeks Redis would still hold.
    """
    return max(week.ends_at, last_write) + KEYS_OUTLIVE_WEEK_BY
