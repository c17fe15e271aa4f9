"""InMemoryQuota: the quota port's rules in memory, for the unit tests of the services that
call it. It runs through the same contract suite as RedisQuota (tests/quota_contract.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from schemas.outbound import PlanType
from schemas.seller import SellerStatusChanged
from services.policy import PolicyBook, load_policy
from services.quota.domain import reservations
from services.quota.domain.counters import CampaignLimit, counted_campaign
from services.quota.domain.frequency_cap import CapDecision, CapHistory, decide, frequency_cap_for
from services.quota.domain.ledger_facts import LedgerEvent, LedgerFact, ledger_event
from services.quota.domain.limits import counts_against_quota, limit_of
from services.quota.domain.reservations import (
    DispatchOutcome,
    ReleaseOutcome,
    ReserveOutcome,
    WeekUsage,
)
from services.quota.domain.week import week_of
from services.quota.protocol import (
    Dispatch,
    OutcomeT,
    QuotaAnswer,
    Release,
    Reservation,
    WeekCount,
    check_ids,
    check_message_ids,
    without_week,
)
from services.shared.clock import Clock, utc_now


@dataclass
class InMemoryQuota:
    """The port's rules in memory. `ledger` collects the facts the Redis adapter publishes."""

    clock: Clock = utc_now
    statuses: dict[str, SellerStatusChanged] = field(default_factory=dict)
    weeks: dict[tuple[str, str], WeekUsage] = field(default_factory=dict)
    caps: dict[tuple[str, str], CapHistory] = field(default_factory=dict)
    ledger: list[LedgerEvent] = field(default_factory=list)
    # The frequency cap's numbers, by market.
    policies: PolicyBook = field(default_factory=load_policy)

    def set_status(self, status: SellerStatusChanged) -> None:
        self.statuses[status.seller_id] = status

    async def reserve(
        self,
        seller_id: str,
        plan_id: str,
        plan_type: PlanType,
        send_at: datetime,
        campaign: CampaignLimit | None = None,
    ) -> Reservation:
        def take(usage: WeekUsage, limit: int) -> tuple[WeekUsage, ReserveOutcome]:
            return reservations.reserve(usage, plan_id, limit)

        return self._on_plan(
            seller_id, plan_id, plan_type, send_at, campaign, take, "quota_exhausted"
        )

    async def release(
        self,
        seller_id: str,
        plan_id: str,
        plan_type: PlanType,
        send_at: datetime,
        campaign: CampaignLimit | None = None,
    ) -> Release:
        def give_back(usage: WeekUsage, _: int) -> tuple[WeekUsage, ReleaseOutcome]:
            return reservations.release(usage, plan_id)

        return self._on_plan(
            seller_id, plan_id, plan_type, send_at, campaign, give_back, "not_reserved"
        )

    async def mark_dispatched(
        self,
        seller_id: str,
        plan_id: str,
        plan_type: PlanType,
        send_at: datetime,
        campaign: CampaignLimit | None = None,
    ) -> Dispatch:
        def start(usage: WeekUsage, _: int) -> tuple[WeekUsage, DispatchOutcome]:
            return reservations.dispatch(usage, plan_id)

        return self._on_plan(
            seller_id, plan_id, plan_type, send_at, campaign, start, "not_reserved"
        )

    async def usage(
        self, seller_id: str, at: datetime, campaign: CampaignLimit | None = None
    ) -> WeekCount:
        status = self.statuses.get(seller_id)
        if status is None:
            return WeekCount(week=None, limit=0, used=0)
        if campaign is not None:
            label, limit = campaign.label, campaign.plans_per_seller
        else:
            label, limit = week_of(at, status.market).label, limit_of(status)
        used = self.weeks.get((seller_id, label), WeekUsage()).used
        return WeekCount(week=label, limit=limit, used=used)

    async def seller_status(self, seller_id: str) -> SellerStatusChanged | None:
        return self.statuses.get(seller_id)

    async def may_send(
        self, seller_id: str, customer_id: str, message_id: str, at: datetime
    ) -> CapDecision:
        check_ids(seller_id=seller_id, customer_id=customer_id, message_id=message_id)
        status = self.statuses.get(seller_id)
        policy = frequency_cap_for(self.policies, status.market if status else None)
        pair = (seller_id, customer_id)
        self.caps[pair], decision = decide(
            self.caps.get(pair, CapHistory()), message_id, at, policy
        )
        return decision

    async def may_send_many(
        self, seller_id: str, messages: Sequence[tuple[str, str]], at: datetime
    ) -> list[CapDecision]:
        check_ids(seller_id=seller_id)
        check_message_ids(messages)
        return [await self.may_send(seller_id, c, m, at) for c, m in messages]

    def _on_plan(
        self,
        seller_id: str,
        plan_id: str,
        plan_type: PlanType,
        send_at: datetime,
        campaign: CampaignLimit | None,
        rule: Callable[[WeekUsage, int], tuple[WeekUsage, OutcomeT]],
        no_status: OutcomeT,
    ) -> QuotaAnswer[OutcomeT]:
        check_ids(seller_id=seller_id, plan_id=plan_id)
        counted = counted_campaign(plan_type, campaign)
        if counted is not None:
            check_ids(campaign_id=counted.campaign_id)
        elif not counts_against_quota(plan_type):
            return without_week(cast(OutcomeT, "not_counted"))
        status = self.statuses.get(seller_id)
        if status is None:
            return without_week(no_status)
        week = week_of(send_at, status.market).label
        if counted is not None:
            label, limit = counted.label, counted.plans_per_seller
        else:
            label, limit = week, limit_of(status)
        key = (seller_id, label)
        usage, outcome = rule(self.weeks.get(key, WeekUsage()), limit)
        self.weeks[key] = usage
        if outcome in ("reserved", "released"):
            fact: LedgerFact = "reserved" if outcome == "reserved" else "released"
            self.ledger.append(
                ledger_event(
                    fact,
                    seller_id=seller_id,
                    plan_id=plan_id,
                    week=week,
                    limit=limit,
                    used_after=usage.used,
                    occurred_at=self.clock(),
                    campaign=counted,
                )
            )
        return QuotaAnswer(outcome=outcome, week=label, limit=limit, used=usage.used)
