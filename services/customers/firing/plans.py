"""The automated plans that are live, per seller, folded from crm.plan-events.

A plan is live while its latest event says `ongoing` (PlanStarted); PlanCancelled and
PlanEnded take it out. Every event carries the whole plan with a version, so the fold
keeps the highest version of each plan and a re-read event changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from schemas.plans import Plan, Trigger
from services.customers.domain.trigger_timing import live_window


@dataclass(frozen=True)
class LivePlan:
    plan_id: str
    seller_id: str
    version: int
    segment_id: str
    """Whom it may message: members of this segment at the firing instant."""
    trigger: Trigger
    window: tuple[datetime, datetime]
    """[start, end) in which its trigger may come due (`live_window`)."""

    @property
    def ends_at(self) -> datetime:
        return self.window[1]


class PlanChange(Enum):
    STARTED = "started"
    """Became live, or its trigger or window changed: its seller's customers need a scan."""
    STOPPED = "stopped"
    """No longer live: its waiting pairs go."""


def live_plan(plan: Plan) -> LivePlan | None:
    """The plan as the engine fires it, or None if it is not a live automated plan."""
    if plan.type != "automated" or plan.status != "ongoing":
        return None
    if plan.trigger is None or plan.starts_at is None or plan.ends_at is None:
        return None  # the processor never starts such a plan; nothing to fire
    return LivePlan(
        plan_id=plan.plan_id,
        seller_id=plan.seller_id,
        version=plan.version,
        segment_id=plan.segment_id,
        trigger=plan.trigger,
        window=live_window(plan.starts_at, plan.ends_at, plan.submitted_at),
    )


class LivePlans:
    def __init__(self) -> None:
        self._versions: dict[str, int] = {}
        self._live: dict[str, LivePlan] = {}
        self._by_seller: dict[str, dict[str, LivePlan]] = defaultdict(dict)

    def __len__(self) -> int:
        return len(self._live)

    def get(self, plan_id: str) -> LivePlan | None:
        return self._live.get(plan_id)

    def of_seller(self, seller_id: str) -> list[LivePlan]:
        return list(self._by_seller.get(seller_id, {}).values())

    def plan_ids(self) -> list[str]:
        return list(self._live)

    def sellers(self) -> list[str]:
        return [seller for seller, plans in self._by_seller.items() if plans]

    def apply(self, plan: Plan) -> PlanChange | None:
        """Fold one state of a plan; says what the engine must do about it."""
        if plan.type != "automated":
            return None  # a plan never changes type; others are not remembered at all
        if plan.version <= self._versions.get(plan.plan_id, 0):
            return None
        self._versions[plan.plan_id] = plan.version
        before = self._live.get(plan.plan_id)
        after = live_plan(plan)
        if after is None:
            if before is None:
                return None
            del self._live[plan.plan_id]
            self._by_seller[before.seller_id].pop(plan.plan_id, None)
            return PlanChange.STOPPED
        self._live[plan.plan_id] = after
        self._by_seller[after.seller_id][plan.plan_id] = after
        unchanged = before is not None and (before.trigger, before.window) == (
            after.trigger,
            after.window,
        )
        # A new segment alone needs no scan: the segment is judged at each firing.
        return None if unchanged else PlanChange.STARTED
