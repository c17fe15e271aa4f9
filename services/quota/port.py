"""What outreach and delivery call: reserve, release and dispatch a plan's unit of weekly
quota (one-time plans) or of its campaign's per-seller limit (campaign plans, given
their `CampaignLimit`), read a counter's usage and a seller's status, and ask the
frequency cap.

Two implementations follow the same rules (services/quota/domain): RedisQuota in
adapter.py, and InMemoryQuota below for the unit tests of the services that call it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Generic, Protocol, TypeVar, cast

from pydantic import TypeAdapter, ValidationError

from schemas.outbound import PlanType
from schemas.seller import SellerStatusChanged
from schemas.types import IDENTIFIER_MAX_LENGTH, Identifier
from services.policy import PolicyBook, load_policy
from services.quota.domain import reservations
from services.quota.domain.counters import CampaignLimit as CampaignLimit
from services.quota.domain.counters import counted_campaign
from services.quota.domain.frequency_cap import CapDecision, CapHistory, decide, frequency_cap_for
from services.quota.domain.ledger import LedgerEvent, LedgerFact, ledger_event
from services.quota.domain.limits import counts_against_quota, limit_of
from services.quota.domain.reservations import (
    DispatchOutcome,
    ReleaseOutcome,
    ReserveOutcome,
    WeekUsage,
    quota_left,
)
from services.quota.domain.week import week_of

OutcomeT = TypeVar("OutcomeT", bound=str)


@dataclass(frozen=True, kw_only=True)
class WeekCount:
    """A seller's limit and units used in one counter: `week` is its label, the ISO week
    'YYYY-Www' or 'campaign:<id>' (None: the seller has no status)."""

    week: str | None
    limit: int
    used: int

    @property
    def left(self) -> int:
        return quota_left(self.limit, self.used)


@dataclass(frozen=True, kw_only=True)
class QuotaAnswer(WeekCount, Generic[OutcomeT]):
    """What happened to a plan's unit, and the week's count afterwards."""

    outcome: OutcomeT


Reservation = QuotaAnswer[ReserveOutcome]
Release = QuotaAnswer[ReleaseOutcome]
Dispatch = QuotaAnswer[DispatchOutcome]


_IDENTIFIER: TypeAdapter[str] = TypeAdapter(Identifier)


def check_ids(**ids: str) -> None:
    """Refuse an id the ledger's schema would refuse, before anything is taken: a unit
    whose fact cannot be written to the ledger would stay pending for good."""
    for name, value in ids.items():
        try:
            _IDENTIFIER.validate_python(value)
        except ValidationError as exc:
            raise ValueError(f"{name}: {exc.errors()[0]['msg']}") from None


def check_message_ids(messages: Iterable[tuple[str, str]]) -> None:
    """check_ids for each (customer_id, message_id), all before anything is decided, at
    a fraction of its cost for ids that pass (a fan-out checks millions)."""
    for customer_id, message_id in messages:
        if not (_is_identifier(customer_id) and _is_identifier(message_id)):
            check_ids(customer_id=customer_id, message_id=message_id)


def _is_identifier(value: str) -> bool:
    # Identifier's rule (1-128 characters, trimmed) without pydantic; a unit test
    # holds the two to the same answers.
    return (
        type(value) is str
        and 0 < len(value) <= IDENTIFIER_MAX_LENGTH
        and not value[0].isspace()
        and not value[-1].isspace()
    )


def without_week(outcome: OutcomeT) -> QuotaAnswer[OutcomeT]:
    """The answer when no week is involved: a plan type that does not count, a seller
    without a status (quota 0)."""
    return QuotaAnswer(outcome=outcome, week=None, limit=0, used=0)


class QuotaPort(Protocol):
    async def reserve(
        self,
        seller_id: str,
        plan_id: str,
        plan_type: PlanType,
        send_at: datetime,
        campaign: CampaignLimit | None = None,
    ) -> Reservation:
        """Take a unit of the week holding `send_at`, or of `campaign` for a campaign
        plan (idempotent per plan)."""
        ...

    async def release(
        self,
        seller_id: str,
        plan_id: str,
        plan_type: PlanType,
        send_at: datetime,
        campaign: CampaignLimit | None = None,
    ) -> Release:
        """Give the unit back; refused once the plan is dispatched (idempotent)."""
        ...

    async def mark_dispatched(
        self,
        seller_id: str,
        plan_id: str,
        plan_type: PlanType,
        send_at: datetime,
        campaign: CampaignLimit | None = None,
    ) -> Dispatch:
        """Dispatch started: the unit can no longer be released."""
        ...

    async def usage(
        self, seller_id: str, at: datetime, campaign: CampaignLimit | None = None
    ) -> WeekCount:
        """Limit, used and left in the week holding `at` (or in `campaign`'s counter)."""
        ...

    async def seller_status(self, seller_id: str) -> SellerStatusChanged | None:
        """The seller's latest status, or None before its first one."""
        ...

    async def may_send(
        self, seller_id: str, customer_id: str, message_id: str, at: datetime
    ) -> CapDecision:
        """May this message go to this customer at `at`? Decided once per message_id."""
        ...

    async def may_send_many(
        self, seller_id: str, messages: Sequence[tuple[str, str]], at: datetime
    ) -> list[CapDecision]:
        """`may_send` for many (customer_id, message_id) pairs of one seller, in order:
        the answers equal asking one at a time (delivery asks a page of recipients).
        An invalid id raises ValueError before any message is decided."""
        ...


@dataclass
class InMemoryQuota:
    """The port's rules in memory. `ledger` collects the facts the Redis adapter publishes."""

    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
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
