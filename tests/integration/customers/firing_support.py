"""An in-process trigger engine on this test's topics and Redis prefix, with a clock the
test moves, and what it wrote on crm.plan-firings as a read_committed consumer sees it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer

from schemas.envelope import Event
from schemas.plans import Plan, PlanCancelled, PlanContent, PlanStarted
from schemas.segments import AutomatedPlanFired, SegmentCondition, SegmentDefined
from schemas.seller import SellerMetricsReported
from services.customers.domain.relationship import Relationship, RelationshipEvent, fold
from services.customers.firing import TOPICS as FIRING_TOPICS
from services.customers.firing import TriggerEngine
from services.customers.firing.trigger_engine import Watermark
from services.customers.projection_observer import Applied
from services.customers.store import RedisCustomerStore, customer_store, customers_redis
from services.shared.codec import decode, encode
from services.shared.kafka import new_consumer, new_producer
from services.shared.settings import Settings
from tests.integration.outreach.support import eventually

__all__ = ["FIRING_TOPICS"]

SELLER = "s1"
MARKET = "TH"
# A built-in segment each trigger's customers are in when it comes due (the engine fires
# only for members of the plan's segment at that instant). win_back's are in no built-in
# one (60 days after a single order is not yet lapsed): its tests define ORDERED_BEFORE.
SEGMENT_OF_TRIGGER = {
    "cart_abandoned": "cart_abandoners",
    "new_follower": "followers_not_purchased",
    "post_purchase": "new_customers",
    "win_back": "ordered-before",
}
ORDERED_BEFORE = ("ordered-before", [{"field": "order_count", "op": "gte", "value": 1}])


class FixedClock:
    """Stands still at `now` until a test moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def automated_plan(
    plan_id: str,
    trigger: dict[str, Any],
    starts_at: datetime,
    ends_at: datetime,
    *,
    seller: str = SELLER,
    version: int = 2,
    status: str = "ongoing",
    submitted_at: datetime | None = None,
    segment_id: str | None = None,
) -> Plan:
    return Plan.model_validate(
        {
            "plan_id": plan_id,
            "seller_id": seller,
            "created_by": f"{seller}-owner",
            "type": "automated",
            "name": f"plan {plan_id}",
            "segment_id": segment_id or SEGMENT_OF_TRIGGER[trigger["type"]],
            "content": PlanContent(default_language="en", texts={"en": "Still thinking?"}),
            "trigger": trigger,
            "starts_at": starts_at,
            "ends_at": ends_at,
            "status": status,
            "reason": "seller_cancelled" if status == "cancelled" else None,
            "version": version,
            "created_at": starts_at - timedelta(days=1),
            "updated_at": starts_at - timedelta(days=1),
            "submitted_at": submitted_at or starts_at - timedelta(hours=1),
        }
    )


def metrics_report(seller: str, market: str, now: datetime) -> SellerMetricsReported:
    """A seller's metrics report: all the customers projection needs is its market."""
    return SellerMetricsReported(
        event_id=uuid.uuid4(),
        occurred_at=now,
        seller_id=seller,
        market=market,
        metrics_date=date(2024, 6, 1),
        chats_received=10,
        chats_responded_12h=9,
        ses=4.5,
        violation_points=0,
    )


def plan_event(cls: type[PlanStarted] | type[PlanCancelled], plan: Plan) -> Event:
    return cls(
        event_id=uuid.uuid4(),
        occurred_at=plan.updated_at,
        seller_id=plan.seller_id,
        plan_id=plan.plan_id,
        correlation_id=None,
        plan=plan,
    )


def as_customer(event: RelationshipEvent, customer: str, seller: str = SELLER) -> Any:
    return event.model_copy(
        update={"event_id": uuid.uuid4(), "customer_id": customer, "seller_id": seller}
    )


async def publish(settings: Settings, topic: str, events: Iterable[Event]) -> None:
    producer = new_producer(settings)
    await producer.start()
    try:
        for event in events:
            seller = getattr(event, "seller_id")  # noqa: B009 - every event here has one
            await producer.send_and_wait(settings.topic(topic), encode(event), key=seller.encode())
    finally:
        await producer.stop()


@dataclass
class Firings:
    """crm.plan-firings, read_committed from the start, accumulated."""

    consumer: AIOKafkaConsumer
    seen: list[AutomatedPlanFired] = field(default_factory=list)

    async def read(self, idle_ms: int = 600) -> list[AutomatedPlanFired]:
        """Everything committed so far (reads until nothing comes for `idle_ms`)."""
        while batch := await self.consumer.getmany(timeout_ms=idle_ms):
            for records in batch.values():
                for record in records:
                    event = decode("crm.plan-firings", record.value)
                    assert isinstance(event, AutomatedPlanFired)
                    self.seen.append(event)
        return list(self.seen)

    async def pairs(self) -> list[tuple[str, str]]:
        return sorted((f.plan_id, f.customer_id) for f in await self.read())


@dataclass
class Harness:
    settings: Settings
    store: RedisCustomerStore
    clock: FixedClock
    engine: TriggerEngine
    firings: Firings
    _offset: int = 0

    async def start_plan(self, plan: Plan) -> None:
        await publish(self.settings, "crm.plan-events", [plan_event(PlanStarted, plan)])
        assert await eventually(lambda: _live(self.engine, plan.plan_id), timeout=15)

    async def cancel_plan(self, plan: Plan) -> None:
        cancelled = plan.model_copy(
            update={
                "status": "cancelled",
                "reason": "seller_cancelled",
                "version": plan.version + 1,
            }
        )
        await publish(self.settings, "crm.plan-events", [plan_event(PlanCancelled, cancelled)])
        assert await eventually(lambda: _gone(self.engine, plan.plan_id), timeout=15)

    async def define_segment(
        self, segment_id: str, conditions: list[dict[str, Any]], *, seller: str = SELLER
    ) -> None:
        """Record a custom segment as the projection does on crm.segments."""
        event = SegmentDefined(
            event_id=uuid.uuid4(),
            occurred_at=self.clock.now,
            seller_id=seller,
            segment_id=segment_id,
            account_id=f"{seller}-owner",
            name=segment_id,
            conditions=[SegmentCondition.model_validate(c) for c in conditions],
        )
        self._offset += 1
        await self.engine.definitions.apply(event, self._offset)

    async def arm(
        self, customer: str, events: list[RelationshipEvent], *, seller: str = SELLER
    ) -> Relationship:
        """What the projection does for a batch: write the pair, then hand it on."""
        mine = [as_customer(e, customer, seller) for e in events]
        stored = await self.store.load_relationships(seller, [customer])
        rel = fold(mine, stored.get(customer, Relationship()))
        await self.store.save_relationships({seller: {customer: rel}})
        await self.engine.observe([Applied(seller, customer, e, rel) for e in mine])
        return rel

    async def at(self, now: datetime) -> list[AutomatedPlanFired]:
        """Move the clock, let the engine finish two passes, and read the firings."""
        self.clock.now = now
        passes = self.engine.passes
        assert await eventually(lambda: _after(self.engine, passes + 2), timeout=15)
        return await self.firings.read()


async def _live(engine: TriggerEngine, plan_id: str) -> bool:
    return engine.plans.get(plan_id) is not None


async def _gone(engine: TriggerEngine, plan_id: str) -> bool:
    return engine.plans.get(plan_id) is None


async def _after(engine: TriggerEngine, passes: int) -> bool:
    return engine.passes >= passes


@asynccontextmanager
async def running_engine(
    settings: Settings, clock: FixedClock, watermark: Watermark | None = None
) -> AsyncIterator[Harness]:
    """The engine on the test's topics, ready; stopped (and its errors raised) after."""
    redis = customers_redis(settings)
    store = customer_store(settings, redis)
    # The seller's market, as its first metrics report gives it: the calendar its plans'
    # segments are judged by.
    await store.set_markets({SELLER: MARKET})
    engine = TriggerEngine(settings, store, clock, watermark=watermark, poll_seconds=0.05)
    stopping = asyncio.Event()
    task = asyncio.create_task(engine.run(stopping))
    # A short fetch wait: a read_committed fetch can sit out its whole wait before the
    # broker answers with a just-committed transaction.
    consumer = new_consumer(settings, "crm.plan-firings", group_id=None, fetch_max_wait_ms=100)
    await consumer.start()
    try:

        async def ready() -> bool:
            if task.done():
                task.result()  # raises what stopped it
            return engine.ready

        assert await eventually(ready, timeout=30), "the engine did not get ready"
        yield Harness(settings, store, clock, engine, Firings(consumer))
    finally:
        stopping.set()
        await consumer.stop()
        try:
            await asyncio.wait_for(task, timeout=15)
        finally:
            await redis.aclose()
