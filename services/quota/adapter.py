"""RedisQuota: the quota port on Redis (enforcement) and crm.quota-ledger (the record).

A reservation or release is taken in Redis by one script, which also marks the
fact pending; the fact is published to the ledger and only then answered. The
pending mark is cleared afterwards, in batches. A process that dies between the
two leaves the mark behind: a retry of the same plan, or the reconciler,
publishes the fact again under the same event_id.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import cast

import structlog

from schemas.outbound import PlanType
from schemas.seller import SellerStatusChanged
from services.policy import PolicyBook, load_policy, policy_of
from services.quota.batched_calls import PerTurn
from services.quota.confirmations import Confirmations
from services.quota.domain.counters import CampaignLimit, counted_campaign
from services.quota.domain.frequency_cap import CapDecision, frequency_cap_for
from services.quota.domain.limits import counts_against_quota
from services.quota.domain.week import week_of
from services.quota.keys import build_slot_tags, quota_keys
from services.quota.ledger_topic import LedgerWriter
from services.quota.metrics import CAP_DECISIONS, REFUSALS, RELEASES, RESERVATIONS
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
from services.quota.rebuild import Rebuilder
from services.quota.redis_store import (
    NEEDS_REBUILD,
    RedisQuotaStore,
    WeekCall,
    WeekOperation,
    WeekReply,
    quota_redis,
)
from services.shared.clock import Clock, utc_now
from services.shared.kafka import new_producer
from services.shared.settings import Settings

log = structlog.get_logger(__name__)

# Answers that did not do what was asked; repeats of a done thing are not refusals.
_REFUSED = {
    "reserve": {"quota_exhausted", "already_released"},
    "release": {"already_dispatched", "not_reserved"},
    "dispatch": {"already_released", "not_reserved"},
}
# Markets never change for a seller; this bounds the memory of the lookup cache.
_MARKETS_CACHED = 100_000
# A rebuild that leaves the seller unrestored twice means Redis keeps losing data.
_REBUILD_ATTEMPTS = 3


class RedisQuota:
    def __init__(
        self,
        store: RedisQuotaStore,
        ledger: LedgerWriter,
        rebuilder: Rebuilder,
        clock: Clock = utc_now,
        policies: PolicyBook | None = None,
    ) -> None:
        self.store = store
        self.ledger = ledger
        self.rebuilder = rebuilder
        # The frequency cap's numbers, by market (the packaged book unless given).
        self.policies = policies or load_policy()
        self._clock = clock
        self._markets: dict[str, str] = {}
        self._confirmations = Confirmations(store, clock)
        self._week_calls: PerTurn[tuple[WeekCall, str], WeekReply] = PerTurn(self._run_week_calls)

    async def reserve(
        self,
        seller_id: str,
        plan_id: str,
        plan_type: PlanType,
        send_at: datetime,
        campaign: CampaignLimit | None = None,
    ) -> Reservation:
        return await self._on_plan(
            "reserve", seller_id, plan_id, plan_type, send_at, campaign, no_status="quota_exhausted"
        )

    async def release(
        self,
        seller_id: str,
        plan_id: str,
        plan_type: PlanType,
        send_at: datetime,
        campaign: CampaignLimit | None = None,
    ) -> Release:
        return await self._on_plan(
            "release", seller_id, plan_id, plan_type, send_at, campaign, no_status="not_reserved"
        )

    async def mark_dispatched(
        self,
        seller_id: str,
        plan_id: str,
        plan_type: PlanType,
        send_at: datetime,
        campaign: CampaignLimit | None = None,
    ) -> Dispatch:
        return await self._on_plan(
            "dispatch", seller_id, plan_id, plan_type, send_at, campaign, no_status="not_reserved"
        )

    async def usage(
        self, seller_id: str, at: datetime, campaign: CampaignLimit | None = None
    ) -> WeekCount:
        answer: QuotaAnswer[str] = await self._on_week(
            "count", seller_id, "", at, campaign, no_status=""
        )
        return WeekCount(week=answer.week, limit=answer.limit, used=answer.used)

    async def counter_used(self, seller_id: str, label: str) -> int:
        """Units used in the counter labelled `label` (an ISO week or `campaign:<id>`), as
        Redis holds it now: for a checker that knows the label rather than an instant."""
        return await self.store.counter_used(seller_id, label)

    async def seller_status(self, seller_id: str) -> SellerStatusChanged | None:
        await self._market(seller_id)  # restores the projection first if Redis lost it
        status = await self.store.seller_status(seller_id)
        if status is None and not await self.store.is_restored(seller_id):
            # Lost after the market was cached: a fan-out must not judge the seller
            # inactive from an empty Redis.
            await self.rebuilder.ensure_restored(seller_id)
            status = await self.store.seller_status(seller_id)
        return status

    async def may_send(
        self, seller_id: str, customer_id: str, message_id: str, at: datetime
    ) -> CapDecision:
        check_ids(seller_id=seller_id, customer_id=customer_id, message_id=message_id)
        policy = frequency_cap_for(self.policies, await self._market(seller_id))
        decision = await self.store.may_send(
            seller_id, customer_id, message_id, at, policy, self._clock()
        )
        CAP_DECISIONS.labels(decision.outcome).inc()
        return decision

    async def may_send_many(
        self, seller_id: str, messages: Sequence[tuple[str, str]], at: datetime
    ) -> list[CapDecision]:
        check_ids(seller_id=seller_id)
        check_message_ids(messages)
        if not messages:
            return []
        policy = frequency_cap_for(self.policies, await self._market(seller_id))
        decisions = await self.store.may_send_many(seller_id, messages, at, policy, self._clock())
        for outcome, n in Counter(d.outcome for d in decisions).items():
            CAP_DECISIONS.labels(outcome).inc(n)
        return decisions

    async def close(self) -> None:
        await self._confirmations.close()

    async def _on_plan(
        self,
        operation: WeekOperation,
        seller_id: str,
        plan_id: str,
        plan_type: PlanType,
        send_at: datetime,
        campaign: CampaignLimit | None,
        *,
        no_status: OutcomeT,
    ) -> QuotaAnswer[OutcomeT]:
        check_ids(seller_id=seller_id, plan_id=plan_id)
        counted = counted_campaign(plan_type, campaign)
        if counted is not None:
            check_ids(campaign_id=counted.campaign_id)
        elif not counts_against_quota(plan_type):
            return without_week(cast(OutcomeT, "not_counted"))
        answer = await self._on_week(
            operation, seller_id, plan_id, send_at, counted, no_status=no_status
        )
        _count(operation, answer.outcome)
        return answer

    async def _on_week(
        self,
        operation: WeekOperation,
        seller_id: str,
        plan_id: str,
        at: datetime,
        campaign: CampaignLimit | None,
        *,
        no_status: OutcomeT,
    ) -> QuotaAnswer[OutcomeT]:
        # The cache answers most calls without a coroutine round.
        market = self._markets.get(seller_id) or await self._market(seller_id)
        if market is None:
            return without_week(no_status)
        week = week_of(at, market)
        for _ in range(_REBUILD_ATTEMPTS):
            call = WeekCall(operation, seller_id, plan_id, week, self._clock(), campaign)
            reply = await self._week_calls((call, market))
            if reply.outcome != NEEDS_REBUILD:
                return QuotaAnswer(
                    outcome=cast(OutcomeT, reply.outcome),
                    week=call.counter_label,
                    limit=reply.limit,
                    used=reply.used,
                )
            await self.rebuilder.ensure_restored(seller_id)
        raise RuntimeError(f"seller {seller_id} is still not restored after a rebuild")

    async def _run_week_calls(
        self, requests: list[tuple[WeekCall, str]]
    ) -> list[WeekReply | BaseException]:
        """One loop turn's week calls: one pipeline, then one ledger write for every
        fact they took, then every caller is answered."""
        replies = await self.store.run_week_calls([call for call, _ in requests])
        # A fact this process published and is still confirming needs no second copy.
        unpublished = {
            event.event_id: event
            for reply in replies
            if isinstance(reply, WeekReply)
            for event in reply.pending
            if not self._confirmations.holds(event)
        }
        # A failed write fails every call of the turn; their facts stay pending in
        # Redis, so a retry (or the reconciler) publishes them again.
        await self.ledger.publish(list(unpublished.values()))
        for (call, market), reply in zip(requests, replies, strict=True):
            if isinstance(reply, WeekReply) and reply.pending:
                fresh = [e for e in reply.pending if e.event_id in unpublished]
                self._confirmations.add(call.seller_id, market, reply.generation, fresh)
        return replies

    async def _market(self, seller_id: str) -> str | None:
        """The seller's market (None: no status, so quota 0). A missing status may
        also be lost data: then the seller's slot is restored first."""
        market = self._markets.get(seller_id)
        if market is not None:
            return market
        market = await self.store.seller_market(seller_id)
        if market is None and not await self.store.is_restored(seller_id):
            await self.rebuilder.ensure_restored(seller_id)
            market = await self.store.seller_market(seller_id)
        if market is not None:
            if len(self._markets) >= _MARKETS_CACHED:
                self._markets.clear()
            self._markets[seller_id] = market
        return market


def _count(operation: str, outcome: str) -> None:
    if outcome == "reserved":
        RESERVATIONS.inc()
    elif outcome == "released":
        RELEASES.inc()
    elif outcome in _REFUSED[operation]:
        REFUSALS.labels(operation, outcome).inc()


@asynccontextmanager
async def open_quota(settings: Settings, clock: Clock = utc_now) -> AsyncIterator[RedisQuota]:
    """A ready RedisQuota with its own Redis pool and ledger producer, capping messages
    by the policy book the settings name."""
    redis = quota_redis(settings)
    # Every answer waits for its ledger write, so no linger: sends that arrive while
    # a request is in flight still share the next batch.
    producer = new_producer(settings, linger_ms=0)
    await producer.start()
    try:
        store = RedisQuotaStore(redis, quota_keys(settings))
        build_slot_tags()
        await store.load_scripts()
        ledger = LedgerWriter(settings, producer)
        quota = RedisQuota(
            store, ledger, Rebuilder(settings, store, ledger, clock), clock, policy_of(settings)
        )
        try:
            yield quota
        finally:
            await quota.close()
    finally:
        await producer.stop()
        await redis.aclose()
