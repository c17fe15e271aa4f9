"""Engagement marks: per seller and window, the sets of messages delivered, read, blocked.

A window's tally is the size of its sets, so folding an event is a set insertion:
redelivered, re-read or re-applied events change nothing, in any order. That is what
makes a batch replayed after a crash land on the same counts.

The sets are mutable on purpose: this is the per-event hot path (tens of thousands of
events a second), where a frozen copy per event would cost more than the rest of the
fold together. They stay pure all the same: no Kafka, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from services.eligibility.domain.state import EngagementKind, Tally, engagement_window
from services.eligibility.domain.trusted import trusted

KINDS: tuple[EngagementKind, ...] = ("delivered", "read", "blocked")
# Engagement for a seller whose market is still unknown waits, up to this many events.
WAITING_LIMIT = 10_000
# Every time zone offset (and every DST jump) is a multiple of 15 minutes: within one
# such slice of UTC time, the market-local date, and so the window, cannot change.
_SLICE_SECONDS = 900


@dataclass(slots=True)
class WindowMarks:
    delivered: set[str] = field(default_factory=set)
    read: set[str] = field(default_factory=set)
    blocked: set[str] = field(default_factory=set)

    def add(self, kind: EngagementKind, message_id: str) -> bool:
        """Whether the message is new for this kind in this window."""
        seen: set[str] = getattr(self, kind)
        if message_id in seen:
            return False
        seen.add(message_id)
        return True

    def tally(self) -> Tally:
        return trusted(
            Tally, delivered=len(self.delivered), read=len(self.read), blocked=len(self.blocked)
        )

    def __len__(self) -> int:
        return len(self.delivered) + len(self.read) + len(self.blocked)


def revisitable(window: str, evaluated_month: str | None) -> bool:
    """Whether a decision can still read this window's marks. Decisions only move
    forward: once a seller is decided for a later month, this window is closed."""
    return evaluated_month is None or window >= evaluated_month


@dataclass
class WindowOf:
    """`engagement_window`, remembered per market and 15-minute slice of time."""

    _known: dict[tuple[str, int], str] = field(default_factory=dict)

    def __call__(self, at: datetime, market: str) -> str:
        key = (market, int(at.timestamp()) // _SLICE_SECONDS)
        window = self._known.get(key)
        if window is None:
            window = self._known[key] = engagement_window(at, market)
        return window
