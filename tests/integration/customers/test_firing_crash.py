"""Kill `crm worker customers` while it fires automated plans, restart it: a read_committed
consumer of crm.plan-firings sees every due (plan, customer) exactly once."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog

from schemas.customer import CartAdded
from schemas.plans import Plan, PlanStarted
from services.customers.firing import TOPICS as FIRING_TOPICS
from services.customers.projection import TOPICS as PROJECTION_TOPICS
from services.shared.codec import decode, encode
from services.shared.kafka import new_consumer, new_producer
from services.shared.settings import Settings
from services.shared.worker_process import WorkerProcess
from tests.integration.customers.firing_support import (
    SELLER,
    automated_plan,
    metrics_report,
    plan_event,
)

log = structlog.get_logger(__name__)

TOPICS = (*PROJECTION_TOPICS, *FIRING_TOPICS, "crm.dead-letters")


def _plans(now: datetime, *ids: str) -> list[Plan]:
    """Started two hours ago: carts added 25 hours ago came due one hour ago, inside."""
    started = now - timedelta(hours=2)
    return [
        automated_plan(
            plan_id,
            {"type": "cart_abandoned"},
            started,
            now + timedelta(days=7),
            submitted_at=started,
        )
        for plan_id in ids
    ]


async def _publish(settings: Settings, plans: list[Plan], customers: list[str]) -> None:
    added = datetime.now(UTC) - timedelta(hours=25)
    producer = new_producer(settings)
    await producer.start()
    try:
        # The seller's market (from its metrics report): the calendar its plan's segment,
        # cart_abandoners, is judged by at each firing.
        report = metrics_report(SELLER, "TH", datetime.now(UTC))
        await producer.send(settings.topic("crm.seller-metrics"), encode(report), key=b"s1")
        for plan in plans:
            started = plan_event(PlanStarted, plan)
            await producer.send(settings.topic("crm.plan-events"), encode(started), key=b"s1")
        for customer in customers:
            cart = CartAdded(
                event_id=uuid.uuid4(),
                occurred_at=added,
                seller_id=SELLER,
                customer_id=customer,
                product_id="p1",
            )
            await producer.send(
                settings.topic("crm.customer-activity"), encode(cart), key=SELLER.encode()
            )
        await producer.flush()
    finally:
        await producer.stop()


async def _firings(
    settings: Settings, expected: int, *, isolation: str = "read_committed", idle_ms: int = 3000
) -> Counter[tuple[str, str]]:
    """(plan, customer) → how often it appears, reading until `expected` records arrived
    and then nothing more for `idle_ms`, or nothing at all for 60 s."""
    consumer = new_consumer(
        settings,
        "crm.plan-firings",
        group_id=None,
        isolation_level=isolation,
        fetch_max_wait_ms=100,
    )
    await consumer.start()
    seen: Counter[tuple[str, str]] = Counter()
    try:
        while True:
            wait = idle_ms if sum(seen.values()) >= expected else 60_000
            batch = await consumer.getmany(timeout_ms=wait)
            if not batch:
                return seen
            for records in batch.values():
                for record in records:
                    event = decode("crm.plan-firings", record.value)
                    seen[(event.plan_id, event.customer_id)] += 1  # type: ignore[attr-defined]
    finally:
        await consumer.stop()


def _exactly_once(seen: Counter[tuple[str, str]], plans: list[Plan], customers: list[str]) -> None:
    expected = {(p.plan_id, c) for p in plans for c in customers}
    missing = expected - set(seen)
    repeated = {pair: n for pair, n in seen.items() if n > 1}
    assert not missing, f"{len(missing)} due firings lost, e.g. {sorted(missing)[:3]}"
    assert not repeated, f"fired more than once: {sorted(repeated.items())[:3]}"
    assert set(seen) == expected


async def test_a_crash_between_sending_and_committing_firings_loses_and_repeats_nothing(
    settings: Settings, topics: Callable[..., Any], redis_url: str, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"redis_url": redis_url})
    await topics(*TOPICS)
    plans = _plans(datetime.now(UTC), "cart-reminder")
    customers = [f"c{i:03d}" for i in range(50)]
    worker_log = tmp_path / "customers.log"
    crashing = WorkerProcess(
        "customers", settings, worker_log, CRM_CUSTOMERS_CRASH_POINT="after_firings_sent"
    )
    crashing.start()
    try:
        await crashing.wait_ready()
        await _publish(settings, plans, customers)
        assert crashing.process is not None
        assert await asyncio.to_thread(crashing.process.wait, 60) == -9, "it did not crash"
        # The crash came after the firings reached the log: uncommitted, so invisible.
        uncommitted = await _firings(settings, 1, isolation="read_uncommitted", idle_ms=1000)
        assert sum(uncommitted.values()) > 0
        assert await _firings(settings, 0, idle_ms=1000) == Counter()

        restarted = WorkerProcess("customers", settings, worker_log)
        restarted.start()
        try:
            await restarted.wait_ready()
            seen = await _firings(settings, len(customers))
            _exactly_once(seen, plans, customers)
        finally:
            restarted.stop()
    finally:
        crashing.stop()


async def test_a_kill_at_a_random_moment_of_a_large_batch_loses_and_repeats_nothing(
    settings: Settings, topics: Callable[..., Any], redis_url: str, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"redis_url": redis_url})
    await topics(*TOPICS)
    plans = _plans(datetime.now(UTC), "cart-reminder", "cart-nudge")
    customers = [f"c{i:04d}" for i in range(2000)]
    worker_log = tmp_path / "customers.log"
    first = WorkerProcess("customers", settings, worker_log)
    first.start()
    try:
        await first.wait_ready()
        await _publish(settings, plans, customers)
        # Kill once the firing has begun (the first record, committed or not), a little
        # later at random.
        await _firings(settings, 1, isolation="read_uncommitted", idle_ms=0)
        delay = random.uniform(0, 0.2)
        log.info("killing_worker", after_seconds=round(delay, 3))
        await asyncio.sleep(delay)
        first.kill9()
    finally:
        first.stop()
    before = await _firings(settings, 0, idle_ms=1000)
    log.info("firings_before_restart", committed=sum(before.values()))

    restarted = WorkerProcess("customers", settings, worker_log)
    restarted.start()
    try:
        await restarted.wait_ready()
        seen = await _firings(settings, len(plans) * len(customers))
        _exactly_once(seen, plans, customers)
    finally:
        restarted.stop()
