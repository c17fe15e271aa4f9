"""When the monthly ticks are due: 00:00 market-local on the 1st, for every market."""

from __future__ import annotations

from collections.abc import Set
from datetime import datetime

from schemas.markets import MARKET_TIME_ZONES
from services.eligibility.domain.calendar import month_at


def due_ticks(now: datetime, emitted: Set[tuple[str, str]]) -> list[tuple[str, str]]:
    """(market, effective_month) pairs whose tick is due and not yet emitted.

    Each market's current local month is due from its 1st at 00:00. The caller
    remembers what it emitted in this process only: a restart emits the current
    month again, which is harmless (a repeated tick publishes nothing for an
    unchanged decision) and catches up a tick missed while the worker was down.
    """
    current = ((market, month_at(now, market)) for market in MARKET_TIME_ZONES)
    return [pair for pair in current if pair not in emitted]
