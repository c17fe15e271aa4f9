"""The reservation rules of one seller's week, as pure transitions.

The Lua scripts in services/quota/scripts apply the same rules atomically in
Redis; the in-memory fake applies these functions. A plan's entry moves
reserved → dispatched, or reserved → released, and never back: a released
plan id cannot take a unit again, so each (plan, fact) happens once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

PlanState = Literal["reserved", "dispatched", "released"]
ReserveOutcome = Literal[
    "reserved", "already_reserved", "already_released", "quota_exhausted", "not_counted"
]
ReleaseOutcome = Literal[
    "released", "already_released", "already_dispatched", "not_reserved", "not_counted"
]
DispatchOutcome = Literal[
    "dispatched", "already_dispatched", "already_released", "not_reserved", "not_counted"
]

HOLDING: frozenset[PlanState] = frozenset({"reserved", "dispatched"})


@dataclass(frozen=True)
class WeekUsage:
    """The plans that asked for a unit of one seller's week, by plan_id."""

    plans: Mapping[str, PlanState] = field(default_factory=dict)

    @property
    def used(self) -> int:
        return sum(1 for state in self.plans.values() if state in HOLDING)

    def _with(self, plan_id: str, state: PlanState) -> WeekUsage:
        return WeekUsage({**self.plans, plan_id: state})


def reserve(usage: WeekUsage, plan_id: str, limit: int) -> tuple[WeekUsage, ReserveOutcome]:
    state = usage.plans.get(plan_id)
    if state == "released":
        return usage, "already_released"
    if state is not None:
        return usage, "already_reserved"
    # A lowered limit can leave used above it: refuse, never go negative.
    if usage.used >= limit:
        return usage, "quota_exhausted"
    return usage._with(plan_id, "reserved"), "reserved"


NotReservedOutcome = Literal["not_reserved", "already_released", "already_dispatched"]


def _not_reserved(state: PlanState | None) -> NotReservedOutcome | None:
    """Why a plan in `state` can be neither released nor dispatched (None: it can)."""
    if state is None:
        return "not_reserved"
    if state == "released":
        return "already_released"
    if state == "dispatched":
        return "already_dispatched"
    return None


def release(usage: WeekUsage, plan_id: str) -> tuple[WeekUsage, ReleaseOutcome]:
    refused = _not_reserved(usage.plans.get(plan_id))
    if refused is not None:
        return usage, refused
    return usage._with(plan_id, "released"), "released"


def dispatch(usage: WeekUsage, plan_id: str) -> tuple[WeekUsage, DispatchOutcome]:
    refused = _not_reserved(usage.plans.get(plan_id))
    if refused is not None:
        return usage, refused
    return usage._with(plan_id, "dispatched"), "dispatched"


def quota_left(limit: int, used: int) -> int:
    """Unused quota does not roll over, and a limit lowered mid-week never makes it negative."""
    return max(0, limit - used)
