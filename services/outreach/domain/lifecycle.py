"""The plan state machine of SPEC section 5: which action each status allows and what a
command, a due time or a suspension turns a plan into.

Every function is pure: the caller passes `now`, the seller's access and the quota
port's answer, and gets back either a `Change` (the event to publish and the plan after
it) or a `Refusal` (why nothing changed).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from schemas.plans import (
    CompletePlan,
    CreatePlan,
    EditPlan,
    Plan,
    PlanStatus,
    RejectReason,
    ReplyOutcome,
)
from schemas.seller import Access
from services.outreach.domain import shard_completion

SellerAction = Literal["view", "edit", "delete", "submit", "cancel"]

SELLER_ACTIONS: dict[PlanStatus, frozenset[SellerAction]] = {
    "draft": frozenset({"view", "edit", "delete", "submit"}),
    "scheduled": frozenset({"view", "cancel"}),
    "sending": frozenset({"view"}),
    "completed": frozenset({"view"}),
    "ongoing": frozenset({"view", "cancel"}),
    "ended": frozenset({"view"}),
    "cancelled": frozenset({"view"}),
    "rejected": frozenset({"view"}),
}

EventName = Literal[
    "PlanCreated",
    "PlanEdited",
    "PlanDeleted",
    "PlanScheduled",
    "PlanDispatched",
    "PlanStarted",
    "PlanEnded",
    "PlanCompleted",
    "PlanShardCompleted",
    "PlanCancelled",
    "PlanRejected",
]


@dataclass(frozen=True)
class Change:
    """Publish `event` carrying `plan`, the plan after the change."""

    event: EventName
    plan: Plan


@dataclass(frozen=True)
class Refusal:
    outcome: ReplyOutcome
    detail: str


@dataclass(frozen=True)
class QuotaNeeded:
    """The submit takes a unit first (of the week holding `at`, or of the plan's
    campaign); `finish_submit` decides."""

    plan: Plan
    at: datetime


Decision = Change | Refusal


def allows(status: PlanStatus, action: SellerAction) -> bool:
    return action in SELLER_ACTIONS[status]


def _forbidden(plan: Plan, action: SellerAction) -> Refusal:
    allowed = ", ".join(sorted(SELLER_ACTIONS[plan.status]))
    return Refusal(
        "forbidden_action", f"cannot {action} a plan that is {plan.status} (allowed: {allowed})"
    )


def not_found(plan_id: str) -> Refusal:
    return Refusal("not_found", f"no plan {plan_id} for this seller")


def _evolve(plan: Plan, now: datetime, **changes: object) -> Plan:
    return plan.model_copy(update={**changes, "version": plan.version + 1, "updated_at": now})


def create(existing: Plan | None, command: CreatePlan, now: datetime) -> Decision:
    if existing is not None:
        # A retried create (same plan_id) answers with the plan it made.
        if existing.created_by == command.account_id and existing.seller_id == command.seller_id:
            return Change("PlanCreated", existing)
        return Refusal("version_conflict", f"plan {command.plan_id} already exists")
    plan = Plan(
        **dict(command.draft),
        plan_id=command.plan_id,
        seller_id=command.seller_id,
        created_by=command.account_id,
        status="draft",
        version=1,
        created_at=now,
        updated_at=now,
    )
    return Change("PlanCreated", plan)


def edit(plan: Plan, command: EditPlan, now: datetime) -> Decision:
    if not allows(plan.status, "edit"):
        return _forbidden(plan, "edit")
    if plan.version != command.expected_version:
        return Refusal(
            "version_conflict",
            f"plan changed meanwhile (version {plan.version}, edit was based on "
            f"{command.expected_version}); read it again",
        )
    return Change("PlanEdited", _evolve(plan, now, **dict(command.draft)))


def delete(plan: Plan, now: datetime) -> Decision:
    if not allows(plan.status, "delete"):
        return _forbidden(plan, "delete")
    return Change("PlanDeleted", _evolve(plan, now))


def _reject(plan: Plan, reason: RejectReason, now: datetime) -> Change:
    return Change("PlanRejected", _evolve(plan, now, status="rejected", reason=reason))


def _schedule(plan: Plan, now: datetime) -> Change:
    if plan.send_now:
        return Change(
            "PlanDispatched",
            _evolve(plan, now, status="sending", submitted_at=now, dispatched_at=now),
        )
    return Change("PlanScheduled", _evolve(plan, now, status="scheduled", submitted_at=now))


# One-time plans take a unit of their week, campaign plans one of their campaign's
# per-seller plans (domain/campaigns.py); automated plans count nowhere.
COUNTED_TYPES = frozenset({"one_time", "campaign"})


def quota_instant(plan: Plan, now: datetime) -> datetime:
    """The instant whose week a one-time plan's unit belongs to: its send time."""
    return now if plan.send_now or plan.send_at is None else plan.send_at


def may_plan(access: Access | None) -> bool:
    """Only an active seller creates or submits plans (SPEC section 5); the others keep
    viewing, editing and deleting what they have. The API answers 403 up front, and a
    submit still re-checks here because the status may change in between."""
    return access == "active"


def begin_submit(
    plan: Plan, access: Access | None, problems: Iterable[object], now: datetime
) -> Decision | QuotaNeeded:
    """Everything a submit decides before the quota port is asked. `problems` are what
    the clock and the campaign calendar find wrong with the plan now."""
    if not allows(plan.status, "submit"):
        return _forbidden(plan, "submit")
    if list(problems):
        return _reject(plan, "invalid_plan", now)
    if not may_plan(access):
        return _reject(plan, "not_eligible", now)
    if plan.type in COUNTED_TYPES:
        at = quota_instant(plan, now)
        return QuotaNeeded(plan.model_copy(update={"quota_at": at}), at)
    return Change("PlanStarted", _evolve(plan, now, status="ongoing", submitted_at=now))


def finish_submit(needed: QuotaNeeded, reserve_outcome: str, now: datetime) -> Change:
    """A one-time or campaign plan's submit once the quota port answered `reserve`; a
    refusal is `quota_exhausted` for both (the week's quota, or the campaign's limit).

    `already_reserved` is a replayed submit finding the unit its first attempt took.
    """
    if reserve_outcome in ("reserved", "already_reserved"):
        return _schedule(needed.plan, now)
    return _reject(needed.plan, "quota_exhausted", now)


def cancel(plan: Plan, now: datetime, reason: str = "seller_cancelled") -> Decision:
    if not allows(plan.status, "cancel"):
        return _forbidden(plan, "cancel")
    return Change("PlanCancelled", _evolve(plan, now, status="cancelled", reason=reason))


def complete(plan: Plan, command: CompletePlan, now: datetime) -> Decision:
    """The whole fan-out's counts, or (`shard_count` > 1) one shard's: the plan records
    the shard's report and completes with the last one, their counts summed once."""
    if plan.status != "sending":
        return Refusal("forbidden_action", f"only a sending plan completes, not a {plan.status}")
    if command.shard_count > 1:
        return _complete_shard(plan, command, now)
    return _completed(plan, now, command.recipients, command.sent, dict(command.suppressed))


def _completed(
    plan: Plan,
    now: datetime,
    recipients: int,
    sent: int,
    suppressed: dict[str, int],
    **fields: object,
) -> Decision:
    return Change(
        "PlanCompleted",
        _evolve(
            plan,
            now,
            status="completed",
            completed_at=now,
            recipients=recipients,
            sent=sent,
            suppressed=suppressed,
            **fields,
        ),
    )


def _complete_shard(plan: Plan, command: CompletePlan, now: datetime) -> Decision:
    reports = shard_completion.with_report(
        plan.shards_reported or [], shard_completion.report_of(command)
    )
    if reports is None:
        return Refusal(
            "forbidden_action", f"shard {command.shard} of {plan.plan_id} already reported"
        )
    if not shard_completion.all_reported(reports, command.shard_count):
        return Change("PlanShardCompleted", _evolve(plan, now, shards_reported=reports))
    totals = shard_completion.summed(reports)
    return _completed(
        plan,
        now,
        totals.recipients,
        totals.sent,
        totals.suppressed,
        shards_reported=reports,
    )


def due_at(plan: Plan) -> datetime | None:
    """When the processor must act on this plan without being asked."""
    if plan.status == "scheduled":
        return plan.send_at
    if plan.status == "ongoing":
        return plan.ends_at
    return None


def on_due(plan: Plan, now: datetime) -> Change | None:
    """A scheduled plan whose send_at came starts sending; an automated plan whose
    timeframe is over ends."""
    at = due_at(plan)
    if at is None or at > now:
        return None
    if plan.status == "scheduled":
        return Change("PlanDispatched", _evolve(plan, now, status="sending", dispatched_at=now))
    return Change("PlanEnded", _evolve(plan, now, status="ended"))


def on_suspension(plan: Plan, suspended_at: datetime, now: datetime) -> Change | None:
    """A suspension cancels what the seller had scheduled or running when it took effect.

    Plans submitted after it were accepted under a later status, so replaying an old
    suspension never cancels them.
    """
    if plan.status not in ("scheduled", "ongoing"):
        return None
    if plan.submitted_at is None or plan.submitted_at >= suspended_at:
        return None
    return Change(
        "PlanCancelled", _evolve(plan, now, status="cancelled", reason="seller_suspended")
    )
