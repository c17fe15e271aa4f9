"""crm.delivery-progress, crm.chat-engagement, crm.customer-activity and crm.plan-events →
the performance figures in Redis (see store.py for the layout).

Exact under redelivery, by marks rather than by offsets: every count is guarded by a
mark written in the same Lua script that adds it (one bit per message and kind, one
set member per order id or claim event id), so a batch consumed twice after a crash,
or a duplicate published upstream, changes nothing. The marks are needed anyway — a
message read twice counts once, an order is de-duplicated by order_id — so they give
exactness under redelivery for free, whereas offsets stored in Redis beside the figures
would need a seek on every partition assignment and still not catch upstream
duplicates. Progress records replace the stored count only when they supersede it
(more recipients, or the same and a later offset), and receipts are merged keeping a
plan's first delivery: both idempotent.

Each batch is written in a fixed order: plans and progress, then deliveries (their
receipts, then their counts), then reads, clicks and failures, then orders and claims,
which are attributed from the receipts already written — so an order in the same batch
as the delivery it follows is attributed to it. An order consumed before its delivery
(only possible when the two arrive far out of order) stays unattributed.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

import redis.asyncio as aioredis
import structlog

from schemas.customer import CouponClaimed, OrderPlaced
from schemas.delivery import DeliveryProgressed
from schemas.engagement import MessageClicked, MessageDelivered, MessageFailed, MessageRead
from schemas.envelope import Event
from schemas.topics import topic
from services.customers.port import customer_store
from services.delivery.domain.attribution import (
    Receipt,
    attributed_plan,
    local_day,
    receipt_day,
    receipt_days,
    remember,
)
from services.delivery.domain.performance import (
    ProgressMark,
    Tally,
    claim_tally,
    engagement_tally,
    order_tally,
    progress_day_fields,
    progress_fields,
    shard_fields,
    shard_prefix,
    sharded_totals,
    supersedes,
    totals_day_fields,
)
from services.delivery.performance.metrics import (
    ATTRIBUTIONS,
    PROGRESS_APPLIED,
    TALLIES,
    UNKNOWN_MARKET_EVENTS,
)
from services.delivery.performance.store import PerformanceStore, performance_prefix
from services.shared import groups
from services.shared.consumer import DeadLetteringConsumer, Record, Rejected
from services.shared.projection_guard import ProjectionGuard
from services.shared.settings import Settings

log = structlog.get_logger(__name__)

SERVICE = "delivery"
TOPICS = (
    "crm.delivery-progress",
    "crm.chat-engagement",
    "crm.customer-activity",
    "crm.plan-events",
)
PLAN_EVENTS = topic("crm.plan-events").event_types
Activity = OrderPlaced | CouponClaimed


@dataclass
class _Batch:
    segments: dict[tuple[str, str], str] = field(default_factory=dict)
    # (seller, plan, shard prefix) → the latest record of the plan (or of its shard).
    progress: dict[tuple[str, str, str], tuple[ProgressMark, DeliveryProgressed]] = field(
        default_factory=dict
    )
    delivered: list[MessageDelivered] = field(default_factory=list)
    engaged: list[MessageRead | MessageClicked | MessageFailed] = field(default_factory=list)
    activity: list[Activity] = field(default_factory=list)

    def sellers(self) -> set[str]:
        events: list[Event] = [*self.delivered, *self.engaged, *self.activity]
        sellers = {e.seller_id for e in events if hasattr(e, "seller_id")}
        return sellers | {seller for seller, _, _ in self.progress}


class PerformanceFold:
    """Collects a batch's events (`handle`) and writes them (`flush`)."""

    def __init__(self, store: PerformanceStore) -> None:
        self.store = store
        self._batch = _Batch()
        # A seller's market never changes once known (SPEC section 2).
        self._markets: dict[str, str] = {}

    async def handle(self, event: Event, record: Record | None, offset: int = 0) -> None:
        """`offset`: the record's, when it is read outside the consumer (a refold)."""
        batch = self._batch
        match event:
            case DeliveryProgressed():
                self._progressed(event, record, offset)
            case MessageDelivered():
                batch.delivered.append(event)
            case MessageRead() | MessageClicked() | MessageFailed():
                batch.engaged.append(event)
            case OrderPlaced() | CouponClaimed():
                batch.activity.append(event)
            case _ if isinstance(event, PLAN_EVENTS):
                plan = event.plan  # type: ignore[attr-defined]
                batch.segments[(plan.seller_id, plan.plan_id)] = plan.segment_id
            case _:
                return  # other customer activity: not a performance figure

    def _progressed(self, event: DeliveryProgressed, record: Record | None, offset: int) -> None:
        if record is not None:
            key = record.key.decode(errors="replace") if record.key is not None else None
            if key != event.progress_key:
                # Offsets order a plan's records only within one partition.
                name = "plan_id" if event.shard_count == 1 else "plan_id/shard"
                raise Rejected(f"key: must be the {name} {event.progress_key!r}, got {key!r}")
            offset = record.offset
        unit = (event.seller_id, event.plan_id, shard_prefix(event))
        mark = ProgressMark(event.recipients, offset)
        kept = self._batch.progress.get(unit)
        if kept is None or supersedes(mark, kept[0]):
            self._batch.progress[unit] = (mark, event)
        self._batch.segments[(event.seller_id, event.plan_id)] = event.segment_id

    async def flush(self) -> None:
        batch, self._batch = self._batch, _Batch()
        markets = await self._markets_of(batch.sellers())
        await self.store.save_plan_segments(batch.segments)
        await self._save_progress(batch.progress, markets)
        await self._remember_receipts(batch.delivered)
        await self._count(
            [engagement_tally(e, markets.get(e.seller_id)) for e in batch.delivered],
        )
        await self._count([engagement_tally(e, markets.get(e.seller_id)) for e in batch.engaged])
        await self._count(await self._attributed(batch.activity, markets))

    async def _markets_of(self, sellers: set[str]) -> dict[str, str | None]:
        unknown = [s for s in sellers if s not in self._markets]
        for seller, market in (await self.store.markets(unknown)).items():
            if market is not None:
                self._markets[seller] = market
            else:
                log.warning("performance_market_unknown", seller_id=seller, days_in="UTC")
                UNKNOWN_MARKET_EVENTS.inc()
        return {s: self._markets.get(s) for s in sellers}

    async def _save_progress(
        self,
        progress: dict[tuple[str, str, str], tuple[ProgressMark, DeliveryProgressed]],
        markets: dict[str, str | None],
    ) -> None:
        if not progress:
            return
        stored = await self.store.progress_marks(list(progress))
        superseding = {
            unit: (mark, event)
            for unit, (mark, event) in progress.items()
            if supersedes(mark, stored[unit])
        }
        writes: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
        # The counts also go to the bucket of the record's market-local day, where a
        # segment's daily snapshot finds them.
        days: dict[tuple[str, date], dict[str, str]] = defaultdict(dict)
        sharded: dict[tuple[str, str], DeliveryProgressed] = {}
        for (seller_id, plan_id, _), (mark, event) in superseding.items():
            if event.shard_count > 1:
                writes[(seller_id, plan_id)].update(shard_fields(event, mark.offset))
                latest = sharded.get((seller_id, plan_id))
                if latest is None or event.occurred_at > latest.occurred_at:
                    sharded[(seller_id, plan_id)] = event
                continue
            writes[(seller_id, plan_id)] = progress_fields(event, mark.offset)
            day = local_day(event.occurred_at, markets.get(seller_id))
            days[(seller_id, day)].update(progress_day_fields(event))
        # A sharded plan's figures are the sum of its shards' latest (all of a plan's
        # records are on one partition, so this fold is their only writer).
        hashes = await self.store.plan_hashes(list(sharded))
        for plan, event in sharded.items():
            totals = sharded_totals({**hashes[plan], **writes[plan]}, event.shard_count)
            writes[plan].update(totals, segment_id=event.segment_id, plan_type=event.plan_type)
            day = local_day(event.occurred_at, markets.get(plan[0]))
            days[(plan[0], day)].update(totals_day_fields(event.plan_id, totals))
        PROGRESS_APPLIED.labels("applied").inc(len(superseding))
        PROGRESS_APPLIED.labels("superseded").inc(len(progress) - len(superseding))
        await self.store.save_progress(writes, days)

    async def _remember_receipts(self, delivered: list[MessageDelivered]) -> None:
        if not delivered:
            return
        buckets: dict[tuple[str, date, str], list[MessageDelivered]] = defaultdict(list)
        for event in delivered:
            buckets[(event.seller_id, receipt_day(event.delivered_at), event.customer_id)].append(
                event
            )
        stored = await self.store.receipts(list(buckets))
        merged: dict[tuple[str, date, str], list[Receipt]] = {}
        for bucket, events in buckets.items():
            receipts = stored[bucket]
            for event in events:
                receipts = remember(receipts, Receipt(event.delivered_at, event.plan_id))
            merged[bucket] = receipts
        await self.store.save_receipts(merged)

    async def _attributed(
        self, activity: list[Activity], markets: dict[str, str | None]
    ) -> list[Tally]:
        if not activity:
            return []
        wanted = {
            (e.seller_id, day, e.customer_id)
            for e in activity
            for day in receipt_days(e.occurred_at)
        }
        receipts = await self.store.receipts(sorted(wanted))
        tallies: list[Tally] = []
        for event in activity:
            kind = "order" if isinstance(event, OrderPlaced) else "claim"
            held = [
                r
                for day in receipt_days(event.occurred_at)
                for r in receipts[(event.seller_id, day, event.customer_id)]
            ]
            plan_id = attributed_plan(held, event.occurred_at)
            ATTRIBUTIONS.labels(kind, "attributed" if plan_id else "unattributed").inc()
            if plan_id is None:
                continue
            if isinstance(event, OrderPlaced):
                tallies.append(order_tally(event, plan_id, markets.get(event.seller_id)))
            else:
                tallies.append(claim_tally(event, plan_id, markets.get(event.seller_id)))
        return tallies

    async def _count(self, tallies: list[Tally]) -> None:
        for tally, counted in zip(tallies, await self.store.apply(tallies), strict=True):
            figure = tally.figures[0][0]
            TALLIES.labels(figure, "counted" if counted else "repeated").inc()


class PerformanceProjection:
    """The consumer `crm worker delivery` runs: either `await run(stopping)` in a task of
    its own, or `await start()` (runs in the background) and later `await stop()`.
    `ready()` for /readyz. Bad records are dead-lettered by the consumer."""

    def __init__(
        self,
        settings: Settings,
        redis: aioredis.Redis,
        customers: ProjectionGuard | None = None,
    ) -> None:
        """`customers`, when given, turns healing on: figures Redis lost are refolded
        (after the customers projection, whose markets they read) before a batch is
        written (services/delivery/healing.py)."""
        self.store = PerformanceStore(
            redis, performance_prefix(settings), customer_store(settings, redis)
        )
        self.fold = PerformanceFold(self.store)
        self.guard: ProjectionGuard | None = None
        if customers is not None:
            from services.delivery.healing import performance_guard

            self.guard = performance_guard(settings, self.store, customers)
        self.consumer = DeadLetteringConsumer(
            settings,
            service=SERVICE,
            topics=TOPICS,
            group_id=groups.delivery_performance(settings),
            handler=self.fold.handle,
            flush=self._flush,
            max_records=5000,
        )
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def ready(self) -> bool:
        return self.consumer.ready

    async def _flush(self) -> None:
        if self.guard is not None:
            await self.guard.ensure()
        await self.fold.flush()

    async def run(self, stopping: asyncio.Event | None = None) -> None:
        """Consume until `stopping` (or `stop()`) is set; the consumer's offsets are
        committed after each batch is written."""
        if stopping is not None:
            self._stopping = stopping
        await self.consumer.run(self._stopping)

    async def start(self) -> None:
        self._stopping = asyncio.Event()
        self._task = asyncio.create_task(self.run(), name="performance-projection")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            task, self._task = self._task, None
            await task
