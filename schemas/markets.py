"""The default markets, their time zones and their calendars (SPEC section 2).

Every calendar rule is applied in the seller's market-local time, so the zone
of a market is part of the contract, not a setting.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

Market = Literal["TH", "ID", "MY", "VN", "PH", "SG", "US", "GB"]

MARKET_TIME_ZONES: dict[str, str] = {
    "TH": "Asia/Bangkok",
    "ID": "Asia/Jakarta",
    "MY": "Asia/Kuala_Lumpur",
    "VN": "Asia/Ho_Chi_Minh",
    "PH": "Asia/Manila",
    "SG": "Asia/Singapore",
    "US": "America/Los_Angeles",
    "GB": "Europe/London",
}


@lru_cache(maxsize=len(MARKET_TIME_ZONES))
def zone_of(market: str) -> ZoneInfo:
    """The market's time zone; a ValueError naming the known markets for any other."""
    if market not in MARKET_TIME_ZONES:
        known = ", ".join(sorted(MARKET_TIME_ZONES))
        raise ValueError(f"unknown market {market!r}; known markets: {known}")
    return ZoneInfo(MARKET_TIME_ZONES[market])


def local_date(instant: datetime, market: str) -> date:
    """The market-local calendar date of an instant (timezone-aware, usually UTC)."""
    if instant.tzinfo is None:
        raise ValueError("instant must be timezone-aware")
    return instant.astimezone(zone_of(market)).date()
