"""Three firing engines, each on its own, share the sellers by the partitions of
crm.plan-firings (a transactional id per partition, services/shared/transactions.py);
one stops in the middle and a fourth joins. Each (plan, customer) fires exactly once,
none missing, and more than one engine owns sellers. Every engine hears of every
relationship here; in the worker an engine hears only of its own process's, and follows
its projection's partitions instead (test_firing_processes_killed.py)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from schemas.plans import PlanStarted
from services.customers.domain.relationship import Relationship, fold
from services.customers.firing import TriggerEngine
from services.customers.projection_observer import Applied
from services.customers.store import customer_store, customers_redis
from services.shared.kafka import new_consumer
from services.shared.settings import Settings
from tests.integration.customers.firing_support import (
    FIRING_TOPICS,
    MARKET,
    Firings,
    FixedClock,
    as_customer,
    automated_plan,
    plan_event,
    publish,
)
from tests.integration.outreach.support import eventually
from tests.unit.customers.builders import followed, utc

pytestmark = pytest.mark.integration
STARTS = utc("2024-06-10T09:30")
SELLERS = [f"fs{n}" for n in range(8)]
CUSTOMERS = 5


async def test_engines_share_the_sellers_and_fire_each_pair_once(
    settings: Settings, topics: Callable[..., Any], redis_url: str
) -> None:
    await topics(*FIRING_TOPICS)
    settings = settings.model_copy(update={"redis_url": redis_url})
    clock = FixedClock(STARTS)
    redis = customers_redis(settings)
    store = customer_store(settings, redis)
    await store.set_markets(dict.fromkeys(SELLERS, MARKET))
    plans = {
        s: automated_plan(
            f"plan-{s}", {"type": "new_follower"}, STARTS, STARTS + timedelta(days=90), seller=s
        )
        for s in SELLERS
    }
    engines: list[TriggerEngine] = []
    stops: list[asyncio.Event] = []
    tasks: list[asyncio.Task[None]] = []

    async def start_engine() -> TriggerEngine:
        engine = TriggerEngine(settings, store, clock, poll_seconds=0.05)
        stopping = asyncio.Event()
        engines.append(engine)
        stops.append(stopping)
        tasks.append(asyncio.create_task(engine.run(stopping)))
        return engine

    async def arm(customer_index: int, at: Any) -> None:
        for seller in SELLERS:
            customer = f"{seller}-c{customer_index}"
            mine = [as_customer(followed(at), customer, seller)]
            rel = fold(mine, Relationship())
            await store.save_relationships({seller: {customer: rel}})
            for engine, stopping in zip(engines, stops, strict=True):
                if not stopping.is_set():
                    await engine.observe([Applied(seller, customer, e, rel) for e in mine])

    consumer = new_consumer(settings, "crm.plan-firings", group_id=None, fetch_max_wait_ms=100)
    await consumer.start()
    firings = Firings(consumer)
    try:
        for _ in range(3):
            await start_engine()
        assert await eventually(_all_ready(engines), timeout=60)
        await publish(
            settings, "crm.plan-events", [plan_event(PlanStarted, p) for p in plans.values()]
        )
        assert await eventually(_all_know(engines, len(plans)), timeout=30)
        await asyncio.sleep(2)  # the three settled into one group generation
        # First wave: every engine up.
        first = STARTS + timedelta(hours=1)
        clock.now = first
        for n in range(CUSTOMERS):
            await arm(n, first)
        assert await eventually(_fired(firings, len(SELLERS) * CUSTOMERS), timeout=60)
        owners = [e for e in engines if e.owned]
        # One engine stops, a fourth joins; the second wave goes to whoever owns now.
        stops[0].set()
        await tasks[0]
        fourth = await start_engine()
        assert await eventually(_all_ready([fourth]), timeout=60)
        await asyncio.sleep(2)
        second = first + timedelta(hours=1)
        clock.now = second
        for n in range(CUSTOMERS, 2 * CUSTOMERS):
            await arm(n, second)
        assert await eventually(_fired(firings, 2 * len(SELLERS) * CUSTOMERS), timeout=90)
        await asyncio.sleep(2)
        seen = await firings.read()
    finally:
        for stopping in stops:
            stopping.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await consumer.stop()
        await redis.aclose()
    counts = Counter((f.plan_id, f.customer_id) for f in seen)
    expected = {(plans[s].plan_id, f"{s}-c{n}") for s in SELLERS for n in range(2 * CUSTOMERS)}
    assert set(counts) == expected
    assert set(counts.values()) == {1}
    assert len(owners) >= 2


def _all_ready(engines: list[TriggerEngine]) -> Callable[[], Any]:
    async def check() -> bool:
        return all(e.ready for e in engines)

    return check


def _all_know(engines: list[TriggerEngine], count: int) -> Callable[[], Any]:
    async def check() -> bool:
        return all(len(e.plans) == count for e in engines)

    return check


def _fired(firings: Firings, count: int) -> Callable[[], Any]:
    async def check() -> bool:
        return len(await firings.read(idle_ms=200)) >= count

    return check
