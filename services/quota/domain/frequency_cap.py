"""The frequency cap: at most N broadcast messages from one seller to one customer in
any rolling window (default 2 in 7 days) and a pure decision. The numbers come from
the policy book (services/policy), by the seller's market; each decision records the
book's version.

Each message is decided once: asking again about the same message_id gives the
same answer, so a redelivered dispatch never changes who was suppressed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from services.policy.domain import PolicyBook

CapOutcome = Literal["allowed", "frequency_capped"]


@dataclass(frozen=True)
class FrequencyCapPolicy:
    version: str
    max_messages: int
    window: timedelta


def frequency_cap_for(book: PolicyBook, market: str | None) -> FrequencyCapPolicy:
    """The cap in force for a seller of `market` (the default while it is unknown)."""
    policy = book.for_market(market)
    cap = policy.frequency_cap
    return FrequencyCapPolicy(
        version=policy.version, max_messages=cap.max_messages, window=cap.window
    )


@dataclass(frozen=True)
class CapDecision:
    outcome: CapOutcome
    repeated: bool
    """The message was decided before; this is that decision again."""
    policy_version: str

    @property
    def allowed(self) -> bool:
        return self.outcome == "allowed"


@dataclass(frozen=True)
class CapHistory:
    """What was decided for one seller → customer pair."""

    sent: Mapping[str, datetime] = field(default_factory=dict)
    refused: frozenset[str] = frozenset()


def busiest_window(sent: Iterable[datetime], at: datetime, window: timedelta) -> int:
    """The most messages already sent in one window [start, start + window) that contains `at`.

    The busiest such window starts at `at` or at a message sent in (at − window, at],
    so only those starts need counting; later messages count too, so a decision
    asked out of time order still keeps every window within the cap.
    """
    times = list(sent)
    starts = [t for t in times if at - window < t <= at] + [at]
    return max(sum(1 for t in times if start <= t < start + window) for start in starts)


def decide(
    history: CapHistory, message_id: str, at: datetime, policy: FrequencyCapPolicy
) -> tuple[CapHistory, CapDecision]:
    # In UTC: a window is real hours, and Python subtracts same-zone times by the wall clock.
    at = at.astimezone(UTC)
    if message_id in history.sent:
        return history, CapDecision("allowed", True, policy.version)
    if message_id in history.refused:
        return history, CapDecision("frequency_capped", True, policy.version)
    if busiest_window(history.sent.values(), at, policy.window) >= policy.max_messages:
        refused = CapHistory(history.sent, history.refused | {message_id})
        return refused, CapDecision("frequency_capped", False, policy.version)
    sent = CapHistory({**history.sent, message_id: at}, history.refused)
    return sent, CapDecision("allowed", False, policy.version)
