"""Three `crm worker customers` processes share the sellers (the partitions of
crm.customer-activity and crm.plan-firings); one is SIGKILLed while they fire and a
fourth is added. A read_committed consumer of crm.plan-firings sees every due
(plan, customer) exactly once, none missing. The same when a process is frozen past its
group session while it fires and then thawed (a zombie)."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from schemas.customer import CartAdded
from schemas.plans import Plan, PlanStarted
from services.shared.codec import encode
from services.shared.kafka import new_producer
from services.shared.settings import Settings
from services.shared.worker_process import WorkerProcess
from tests.integration.customers.firing_support import (
    automated_plan,
    metrics_report,
    plan_event,
)
from tests.integration.customers.test_firing_crash import TOPICS, _exactly_once, _firings

pytestmark = pytest.mark.integration
SELLERS = [f"kill-s{n}" for n in range(12)]
WAVE = 150  # customers per seller and wave
# aiokafka's default group session: a member silent this long is out of the group.
SESSION_TIMEOUT_SECONDS = 10


def _plans(now: datetime) -> list[Plan]:
    """One cart-abandoned plan per seller, started two hours ago: carts added 25 hours
    ago came due an hour ago."""
    started = now - timedelta(hours=2)
    return [
        automated_plan(
            f"plan-{seller}",
            {"type": "cart_abandoned"},
            started,
            now + timedelta(days=7),
            seller=seller,
            submitted_at=started,
        )
        for seller in SELLERS
    ]


async def _publish(settings: Settings, plans: list[Plan], wave: str) -> None:
    now = datetime.now(UTC)
    producer = new_producer(settings)
    await producer.start()
    try:
        for seller in SELLERS:
            report = metrics_report(seller, "TH", now)
            await producer.send(
                settings.topic("crm.seller-metrics"), encode(report), key=seller.encode()
            )
        for plan in plans:
            await producer.send(
                settings.topic("crm.plan-events"),
                encode(plan_event(PlanStarted, plan)),
                key=plan.seller_id.encode(),
            )
        for seller in SELLERS:
            for n in range(WAVE):
                cart = CartAdded(
                    event_id=uuid.uuid4(),
                    occurred_at=now - timedelta(hours=25),
                    seller_id=seller,
                    customer_id=f"{wave}{n:04d}",
                    product_id="p1",
                )
                await producer.send(
                    settings.topic("crm.customer-activity"), encode(cart), key=seller.encode()
                )
        await producer.flush()
    finally:
        await producer.stop()


async def test_a_killed_process_and_an_added_one_fire_each_pair_once(
    settings: Settings, topics: Callable[..., Any], redis_url: str, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"redis_url": redis_url})
    await topics(*TOPICS)
    plans = _plans(datetime.now(UTC))
    workers = [
        WorkerProcess("customers", settings, tmp_path / f"customers-{n}.log") for n in range(4)
    ]
    try:
        for worker in workers[:3]:
            worker.start()
        await asyncio.gather(*(w.wait_ready() for w in workers[:3]))
        await _publish(settings, plans, "a")
        await _firings(settings, 1, isolation="read_uncommitted", idle_ms=0)  # firing began
        workers[0].kill9()
        workers[3].start()
        await workers[3].wait_ready()
        await _publish(settings, [], "b")
        seen = await _firings(settings, len(SELLERS) * 2 * WAVE)
        for worker in workers[1:]:
            assert worker.process is not None
            assert worker.process.poll() is None, worker.log()[-3000:].decode(errors="replace")
        busy = [w for w in workers if b'"plans_fired"' in w.log()]
    finally:
        for worker in workers:
            worker.stop()
    _exactly_once(seen, plans, [f"{wave}{n:04d}" for wave in "ab" for n in range(WAVE)])
    assert len(busy) >= 2  # the sellers were shared, not all fired by one process


async def test_a_stalled_process_that_lost_its_sellers_fires_nothing_twice(
    settings: Settings, topics: Callable[..., Any], redis_url: str, tmp_path: Path
) -> None:
    """A zombie: one of two processes is frozen (SIGSTOP) while it fires, long enough for
    the group to hand its partitions to the other, then thawed with its state and open
    transaction as they were. Its producers were fenced by the new owner's: what it had
    in flight is aborted, and it fires nothing the new owner fired."""
    settings = settings.model_copy(update={"redis_url": redis_url})
    await topics(*TOPICS)
    plans = _plans(datetime.now(UTC))
    workers = [
        WorkerProcess("customers", settings, tmp_path / f"customers-{n}.log") for n in range(2)
    ]
    try:
        for worker in workers:
            worker.start()
        await asyncio.gather(*(w.wait_ready() for w in workers))
        await _publish(settings, plans, "a")
        await _firings(settings, 1, isolation="read_uncommitted", idle_ms=0)  # firing began
        frozen = workers[0].process
        assert frozen is not None
        frozen.send_signal(signal.SIGSTOP)
        try:
            await asyncio.sleep(SESSION_TIMEOUT_SECONDS + 5)  # the group moved on without it
            await _publish(settings, [], "b")
            await _firings(settings, len(SELLERS) * 2 * WAVE, idle_ms=1000)
        finally:
            frozen.send_signal(signal.SIGCONT)
        await asyncio.sleep(10)  # it wakes up with what it had scheduled and in flight
        seen = await _firings(settings, len(SELLERS) * 2 * WAVE)
        for worker in workers:
            assert worker.process is not None
            assert worker.process.poll() is None, worker.log()[-3000:].decode(errors="replace")
    finally:
        for worker in workers:
            worker.stop()
    _exactly_once(seen, plans, [f"{wave}{n:04d}" for wave in "ab" for n in range(WAVE)])
