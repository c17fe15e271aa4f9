"""The instant and calendar a segment membership "as of day D" is judged by (SPEC section 5).

`instant_cutoff` is the same calendar judged at an instant rather than a midnight: an
automated plan's segment at its firing instant (see `firing_segment`).

Membership as of D is computed at D 00:00 market-local over events before that instant;
"in the last N days" is [D−N 00:00, D 00:00) market-local; "days since X" counts whole
market-local days from the date of X to D. Local midnights are converted to UTC so every
comparison is between instants: across a DST change a "day" is 23 or 25 hours long.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from schemas.markets import local_date, zone_of


@dataclass(frozen=True)
class Cutoff:
    """Day D of a market, and the instant D 00:00 market-local that membership is judged at."""

    day: date
    market: str
    zone: ZoneInfo
    at: datetime
    """D 00:00 market-local, in UTC; only events strictly before it count."""

    def days_back(self, days: int) -> datetime:
        """D−days 00:00 market-local, in UTC: where "the last `days` days" begin."""
        return _local_midnight(self.day - timedelta(days=days), self.zone)

    def in_last_days(self, instant: datetime | None, days: int) -> bool:
        """Whether `instant` lies in [D−days 00:00, D 00:00) market-local."""
        return instant is not None and self.days_back(days) <= instant < self.at

    def days_since(self, instant: datetime) -> int:
        """Whole market-local days from the local date of `instant` to D (yesterday is 1)."""
        return (self.day - instant.astimezone(self.zone).date()).days

    def before(self, instant: datetime | None) -> datetime | None:
        """`instant` if it is before the cut-off, else None: later facts do not count."""
        return instant if instant is not None and instant < self.at else None


# A recompute asks the same few midnights once per customer and rule: computing them
# (combine + astimezone) was most of the rules' cost.
@lru_cache(maxsize=4096)
def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    # Midnight exists in every market zone: their DST changes happen at 01:00-03:00.
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


@lru_cache(maxsize=1024)  # one scan asks for the same (day, market) once per customer
def cutoff(day: date, market: str) -> Cutoff:
    """The cut-off of day `day` in `market` (a SPEC section 2 market code)."""
    zone = zone_of(market)
    return Cutoff(day=day, market=market, zone=zone, at=_local_midnight(day, zone))


# Instants are kept to the microsecond: a cut-off one microsecond after an instant counts
# every fact at or before it.
_JUST_AFTER = timedelta(microseconds=1)


def instant_cutoff(instant: datetime, market: str) -> Cutoff:
    """The cut-off of `instant` in `market`: facts at or before `instant` count, the day
    is its market-local date, and "the last N days" begin at that day−N 00:00
    market-local — the N whole local days before the instant's day, plus that day up to
    the instant. "Days since X" counts from the date of X to the instant's date."""
    if instant.tzinfo is None:
        raise ValueError("the instant must be timezone-aware")
    zone = zone_of(market)
    day = local_date(instant, market)
    return Cutoff(day=day, market=market, zone=zone, at=instant.astimezone(UTC) + _JUST_AFTER)
