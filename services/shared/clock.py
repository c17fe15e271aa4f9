"""The one clock. Rules take the time as data; what needs "now" takes a `Clock`, so a test
can hand it a fixed or a stepping one, and the processes hand it `utc_now`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """Now, timezone-aware in UTC (every instant on the wire is)."""
    return datetime.now(UTC)
