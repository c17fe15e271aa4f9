"""What the plan processor does with one command, one seller status or one due plan:
ask the pure lifecycle, call the quota port where the lifecycle says so, and return the
changes to publish and the answer for the API.

Quota calls are idempotent per plan, so a batch replayed after a crash (its transaction
never committed) takes or gives back each unit at most once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import uuid4

from schemas.campaigns import CampaignAnnounced
from schemas.envelope import Event
from schemas.plans import (
    CancelPlan,
    CompletePlan,
    CreatePlan,
    DeletePlan,
    EditPlan,
    Plan,
    PlanCommandAnswered,
    ReplyOutcome,
    SubmitPlan,
)
from schemas.seller import SellerStatusChanged
from services.outreach.campaigns import CampaignLookup
from services.outreach.domain import lifecycle
from services.outreach.domain.campaigns import campaign_problems
from services.outreach.domain.lifecycle import COUNTED_TYPES, Change, QuotaNeeded, Refusal
from services.outreach.domain.validation import segment_problems, time_problems
from services.outreach.plan_book import Draft
from services.outreach.segment_ids import LiveSegments
from services.quota.port import CampaignLimit, QuotaPort

PlanCommand = CreatePlan | EditPlan | DeletePlan | SubmitPlan | CancelPlan | CompletePlan
# A command's handler, given the plan it names.
OnPlan = Callable[[Plan, Any, datetime], Awaitable["Change | Refusal"]]


@dataclass
class Outcome:
    """One input's effect: changes to publish (with the command that caused them) and
    the answer to send back."""

    changes: list[tuple[Change, Event | None]] = field(default_factory=list)
    answer: PlanCommandAnswered | None = None


@dataclass
class Handlers:
    quota: QuotaPort
    # The campaign calendar (crm.campaigns) campaign plans are judged and counted by.
    campaigns: CampaignLookup
    # The seller's live custom segments: a plan whose segment was deleted after it was
    # saved is rejected at submit, before any quota unit is taken.
    live_segments: LiveSegments
    # Test hook: called at named points ("after_quota") so a test can kill the process there.
    checkpoint: Callable[[str], None] = lambda _: None

    # What each command does to the plan it names (CreatePlan, the one that needs no
    # plan yet, is handled before the table).
    _on_plan: dict[type[Event], OnPlan] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._on_plan = {
            EditPlan: self._edit,
            DeletePlan: self._delete,
            SubmitPlan: self._submit,
            CancelPlan: self._cancel_by_seller,
            CompletePlan: self._complete,
        }

    async def command(self, draft: Draft, command: PlanCommand, now: datetime) -> Outcome:
        existing = draft.get(command.seller_id, command.plan_id)
        decision: Change | Refusal
        if isinstance(command, CreatePlan):
            decision = lifecycle.create(existing, command, now)
            if existing is not None and isinstance(decision, Change):
                return _answer(command, decision, now, publish=False)
        elif existing is None:
            decision = lifecycle.not_found(command.plan_id)
        else:
            decision = await self._on_plan[type(command)](existing, command, now)
        if isinstance(decision, Change):
            draft.put(decision.plan, deleted=decision.event == "PlanDeleted")
        return _answer(command, decision, now)

    async def status(self, draft: Draft, status: SellerStatusChanged, now: datetime) -> Outcome:
        if status.access != "suspended":
            return Outcome()
        outcome = Outcome()
        for plan in draft.of_seller(status.seller_id):
            change = lifecycle.on_suspension(plan, status.occurred_at, now)
            if change is None:
                continue
            await self._give_back(plan)
            draft.put(change.plan)
            outcome.changes.append((change, None))
        return outcome

    async def due(self, draft: Draft, plan: Plan, now: datetime) -> Outcome:
        change = lifecycle.on_due(plan, now)
        if change is None:
            return Outcome()
        if change.event == "PlanDispatched" and plan.type in COUNTED_TYPES and plan.quota_at:
            # From here on the unit is spent: a cancel can no longer give it back.
            await self.quota.mark_dispatched(
                plan.seller_id, plan.plan_id, plan.type, plan.quota_at, await self._limit(plan)
            )
        draft.put(change.plan)
        return Outcome(changes=[(change, None)])

    async def _edit(self, plan: Plan, command: EditPlan, now: datetime) -> Change | Refusal:
        return lifecycle.edit(plan, command, now)

    async def _delete(self, plan: Plan, _: DeletePlan, now: datetime) -> Change | Refusal:
        return lifecycle.delete(plan, now)

    async def _cancel_by_seller(self, plan: Plan, _: CancelPlan, now: datetime) -> Change | Refusal:
        return await self._cancel(plan, now, "seller_cancelled")

    async def _complete(self, plan: Plan, command: CompletePlan, now: datetime) -> Change | Refusal:
        return lifecycle.complete(plan, command, now)

    async def _submit(self, plan: Plan, _: SubmitPlan, now: datetime) -> Change | Refusal:
        # Three independent reads, side by side: one round trip's wait instead of three.
        status, campaign, live = await asyncio.gather(
            self.quota.seller_status(plan.seller_id),
            self._campaign(plan),
            self.live_segments(plan.seller_id),
        )
        access = status.access if status is not None else None
        market = status.market if status is not None else None
        problems = [
            *time_problems(plan, now=now),
            *campaign_problems(plan, campaign, market, now),
            *segment_problems(plan.segment_id, live),
        ]
        step = lifecycle.begin_submit(plan, access, problems, now)
        if isinstance(step, QuotaNeeded):
            reservation = await self.quota.reserve(
                plan.seller_id, plan.plan_id, plan.type, step.at, _limit_of(campaign)
            )
            self.checkpoint("after_quota")
            return lifecycle.finish_submit(step, reservation.outcome, now)
        if isinstance(step, Change) and step.plan.status == "rejected":
            # A replayed submit may find a unit an earlier, aborted attempt took.
            at = lifecycle.quota_instant(plan, now)
            await self._give_back(step.plan.model_copy(update={"quota_at": at}))
        return step

    async def _cancel(self, plan: Plan, now: datetime, reason: str) -> Change | Refusal:
        decision = lifecycle.cancel(plan, now, reason)
        if isinstance(decision, Change):
            await self._give_back(plan)
        return decision

    async def _give_back(self, plan: Plan) -> None:
        if plan.type in COUNTED_TYPES and plan.quota_at is not None:
            await self.quota.release(
                plan.seller_id, plan.plan_id, plan.type, plan.quota_at, await self._limit(plan)
            )

    async def _campaign(self, plan: Plan) -> CampaignAnnounced | None:
        if plan.type != "campaign" or plan.campaign_id is None:
            return None
        return await self.campaigns.campaign(plan.campaign_id)

    async def _limit(self, plan: Plan) -> CampaignLimit | None:
        return _limit_of(await self._campaign(plan))


def _limit_of(campaign: CampaignAnnounced | None) -> CampaignLimit | None:
    """The counter a campaign plan's unit lives in (None: not a campaign plan's)."""
    if campaign is None:
        return None
    return CampaignLimit(campaign.campaign_id, campaign.plans_per_seller, campaign.ends_at)


def _answer(
    command: PlanCommand, decision: Change | Refusal, now: datetime, *, publish: bool = True
) -> Outcome:
    changes: list[tuple[Change, Event | None]] = []
    outcome: ReplyOutcome
    if isinstance(decision, Change):
        outcome, detail, plan = "applied", None, decision.plan
        if publish:
            changes.append((decision, command))
    else:
        outcome, detail, plan = decision.outcome, decision.detail, None
    answer = PlanCommandAnswered(
        event_id=uuid4(),
        occurred_at=now,
        correlation_id=command.correlation_id,
        seller_id=command.seller_id,
        plan_id=command.plan_id,
        command=command.event_type,
        outcome=outcome,
        detail=detail,
        plan=plan,
    )
    return Outcome(changes=changes, answer=answer)
