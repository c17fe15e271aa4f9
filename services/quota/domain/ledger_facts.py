"""The quota ledger's facts: their deterministic ids, and the fold that rebuilds counters
(a seller's weeks, and its campaign counters: counters.py).

A plan is reserved once and released at most once, so (seller, plan, fact)
names an event: the same fact published twice (a retry, the reconciler) has
the same event_id and is counted once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from schemas.quota import (
    CampaignQuotaReleased,
    CampaignQuotaReserved,
    QuotaReleased,
    QuotaReserved,
)
from services.quota.domain.counters import CampaignLimit, campaign_label
from services.quota.domain.reservations import PlanState, WeekUsage

LedgerFact = Literal["reserved", "released"]
LedgerEvent = QuotaReserved | QuotaReleased | CampaignQuotaReserved | CampaignQuotaReleased
LEDGER_EVENTS = (QuotaReserved, QuotaReleased, CampaignQuotaReserved, CampaignQuotaReleased)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAMESPACE = uuid.UUID("0b7a53c4-1f0e-5d2a-9c61-7e4f2d8a9b30")


def ledger_event_id(seller_id: str, plan_id: str, fact: LedgerFact) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, f"{seller_id}/{plan_id}/{fact}")


def ledger_event(
    fact: LedgerFact,
    *,
    seller_id: str,
    plan_id: str,
    week: str,
    limit: int,
    used_after: int,
    occurred_at: datetime,
    campaign: CampaignLimit | None = None,
) -> LedgerEvent:
    """The fact of a week's unit, or of a campaign's when `campaign` is given (`week`
    is then not part of the event)."""
    if campaign is not None:
        campaign_cls = CampaignQuotaReserved if fact == "reserved" else CampaignQuotaReleased
        return campaign_cls(
            event_id=ledger_event_id(seller_id, plan_id, fact),
            occurred_at=occurred_at,
            seller_id=seller_id,
            plan_id=plan_id,
            campaign_id=campaign.campaign_id,
            campaign_ends_at=campaign.ends_at,
            limit=limit,
            used_after=used_after,
        )
    cls = QuotaReserved if fact == "reserved" else QuotaReleased
    return cls(
        event_id=ledger_event_id(seller_id, plan_id, fact),
        occurred_at=occurred_at,
        seller_id=seller_id,
        plan_id=plan_id,
        week=week,
        limit=limit,
        used_after=used_after,
    )


def fact_of(event: LedgerEvent) -> LedgerFact:
    return "reserved" if isinstance(event, QuotaReserved | CampaignQuotaReserved) else "released"


def counter_of(event: LedgerEvent) -> str:
    """The label of the counter the fact belongs to: its week, or its campaign's."""
    if isinstance(event, CampaignQuotaReserved | CampaignQuotaReleased):
        return campaign_label(event.campaign_id)
    return event.week


def campaign_of(event: LedgerEvent) -> CampaignLimit | None:
    """The campaign of a campaign fact (None for a week's)."""
    if isinstance(event, CampaignQuotaReserved | CampaignQuotaReleased):
        return CampaignLimit(event.campaign_id, event.limit, event.campaign_ends_at)
    return None


def with_fact(state: PlanState | None, fact: LedgerFact) -> PlanState | None:
    """A plan's state once `fact` is known, whatever order the facts arrive in.

    A release may reach the ledger before its reservation (the reservation's
    write was left to the reconciler), so a release wins over a later-read
    reservation, and applying a fact twice changes nothing.
    """
    if fact == "reserved":
        return state or "reserved"
    if state in (None, "reserved"):
        return "released"
    return state


@dataclass(frozen=True)
class LedgeredWeek:
    """One seller's counter as the ledger tells it: a week, or a campaign (`label`
    'campaign:<id>', with the latest end the ledger gave the campaign)."""

    label: str
    usage: WeekUsage
    last_fact_at: datetime
    campaign_ends_at: datetime | None = None


class LedgerFold:
    """Per (seller, counter), the plans the ledger says hold or gave back a unit."""

    def __init__(self) -> None:
        self._seen: set[uuid.UUID] = set()
        self._plans: dict[str, dict[str, dict[str, PlanState]]] = {}
        self._last_fact_at: dict[tuple[str, str], datetime] = {}
        self._campaign_ends_at: dict[tuple[str, str], datetime] = {}
        self.facts = 0
        self.duplicates = 0

    def apply(self, event: LedgerEvent) -> None:
        if event.event_id in self._seen:
            self.duplicates += 1
            return
        self._seen.add(event.event_id)
        self.facts += 1
        label = counter_of(event)
        plans = self._plans.setdefault(event.seller_id, {}).setdefault(label, {})
        week = (event.seller_id, label)
        self._last_fact_at[week] = max(event.occurred_at, self._last_fact_at.get(week, _EPOCH))
        if isinstance(event, CampaignQuotaReserved | CampaignQuotaReleased):
            ends = self._campaign_ends_at.get(week, _EPOCH)
            self._campaign_ends_at[week] = max(ends, event.campaign_ends_at)
        state = with_fact(plans.get(event.plan_id), fact_of(event))
        if state is not None:
            plans[event.plan_id] = state

    @property
    def sellers(self) -> set[str]:
        return set(self._plans)

    def weeks_of(self, seller_id: str) -> list[LedgeredWeek]:
        return [
            LedgeredWeek(
                week,
                WeekUsage(dict(plans)),
                self._last_fact_at[(seller_id, week)],
                self._campaign_ends_at.get((seller_id, week)),
            )
            for week, plans in self._plans.get(seller_id, {}).items()
        ]
