"""Redis stalls or restarts while `crm worker customers` projects customer events and fires
automated plans: the worker keeps running, redoes what had not committed, and a
read_committed consumer of crm.plan-firings sees every due (plan, customer) exactly once.

The stall is a CLIENT PAUSE beyond redis-py's 5 s socket timeout; the restarts are of a
redis-server of the test's own (no persistence: it comes back empty, and the customers
projection is refolded from its topics) and of a broker of the test's own (the shared one
is never touched). A SIGKILL mid-firing is test_firing_crash.py's.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from prometheus_client import REGISTRY
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from services.shared.kafka import create_topics
from services.shared.settings import Settings
from services.shared.worker_process import WorkerProcess, free_port
from tests.integration.customers.firing_support import (
    FIRING_TOPICS,
    FixedClock,
    Harness,
    automated_plan,
    running_engine,
)
from tests.integration.customers.test_firing_crash import (
    TOPICS,
    _exactly_once,
    _firings,
    _plans,
    _publish,
)
from tests.integration.delivery.test_broker_restart import OwnBroker, own_broker
from tests.integration.outreach.support import eventually
from tests.unit.customers.builders import followed, utc

pytestmark = pytest.mark.integration
__all__ = ["own_broker"]  # the fixture: a broker of the test's own (never the shared one)

# Two waves of carts: the first is being fired when Redis goes away, the second arrives
# while it is away.
WAVE = 1000
STARTS = utc("2024-06-10T09:30")


class OwnRedis:
    """A redis-server of this test's own, without persistence, on a free port."""

    def __init__(self, data: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.data = data
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                "redis-server",
                *("--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.data)),
                *("--save", "", "--appendonly", "no", "--logfile", str(self.data / "redis.log")),
            ]
        )

    async def answers(self) -> None:
        client = aioredis.Redis.from_url(self.url)
        try:
            for _ in range(100):
                try:
                    if await client.ping():
                        return
                except RedisConnectionError:
                    pass
                await asyncio.sleep(0.1)
            raise AssertionError("redis-server did not answer")
        finally:
            await client.aclose()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_a_redis_stall_while_firing_is_ridden_out(
    settings: Settings, topics: Callable[..., Any], redis_url: str, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"redis_url": redis_url})
    await topics(*TOPICS)
    plans = _plans(datetime.now(UTC), "cart-reminder", "cart-nudge")
    first = [f"a{i:04d}" for i in range(WAVE)]
    second = [f"b{i:04d}" for i in range(WAVE)]
    log = tmp_path / "customers.log"
    worker = WorkerProcess("customers", settings, log)
    worker.start()
    try:
        await worker.wait_ready()
        await _publish(settings, plans, first)
        await _firings(settings, 1, isolation="read_uncommitted", idle_ms=0)  # firing began
        admin = aioredis.Redis.from_url(settings.redis_url)
        try:
            await admin.execute_command("CLIENT", "PAUSE", "6500", "ALL")
        finally:
            await admin.aclose(close_connection_pool=True)
        await _publish(settings, [], second)
        seen = await _firings(settings, len(plans) * 2 * WAVE)
        await asyncio.sleep(2)  # a worker about to exit has done so
        assert worker.process is not None
        assert worker.process.poll() is None, worker.log()[-3000:].decode(errors="replace")
    finally:
        worker.stop()
    _exactly_once(seen, plans, first + second)
    _rode_it_out(log.read_bytes())


async def test_a_redis_restart_while_firing_is_ridden_out(
    settings: Settings, topics: Callable[..., Any], own_redis: OwnRedis, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"redis_url": own_redis.url})
    await own_redis.answers()
    await topics(*TOPICS)
    plans = _plans(datetime.now(UTC), "cart-reminder", "cart-nudge")
    first = [f"a{i:04d}" for i in range(WAVE)]
    second = [f"b{i:04d}" for i in range(WAVE)]
    log = tmp_path / "customers.log"
    worker = WorkerProcess("customers", settings, log)
    worker.start()
    try:
        port = await worker.wait_ready()
        await _publish(settings, plans, first)
        await _firings(settings, 1, isolation="read_uncommitted", idle_ms=0)  # firing began
        own_redis.stop()
        await _publish(settings, [], second)
        await asyncio.sleep(3)  # away for a while: the loops notice
        assert await _readyz(port) == 503  # not ready meanwhile, and still serving
        own_redis.start()
        await own_redis.answers()
        seen = await _firings(settings, len(plans) * 2 * WAVE)
        await asyncio.sleep(2)
        assert worker.process is not None
        assert worker.process.poll() is None, worker.log()[-3000:].decode(errors="replace")
        # It came back empty: the projection was refolded from its topics.
        assert b"projection_rebuilt" in worker.log()
        await worker.wait_ready(timeout=30)
    finally:
        worker.stop()
    _exactly_once(seen, plans, first + second)
    _rode_it_out(log.read_bytes())


def _rode_it_out(log: bytes) -> None:
    """Both loops met the fault and recovered: the projection read its batch again, the
    firing engine abandoned a pass and recovered (services/shared/transactions.py)."""
    assert b'"batch_retried"' in log
    assert b'"firing_batch_aborted"' in log
    assert b'"transactional_output_recovered"' in log


async def _readyz(port: int) -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/readyz") as response,
    ):
        return response.status


async def test_a_broker_restart_while_firing_is_ridden_out(
    settings: Settings, own_broker: OwnBroker, redis_url: str, tmp_path: Path
) -> None:
    settings = settings.model_copy(
        update={"kafka_bootstrap": f"localhost:{own_broker.port}", "redis_url": redis_url}
    )
    await create_topics(settings, list(TOPICS))
    plans = _plans(datetime.now(UTC), "cart-reminder", "cart-nudge")
    first = [f"a{i:04d}" for i in range(WAVE)]
    second = [f"b{i:04d}" for i in range(WAVE)]
    log = tmp_path / "customers.log"
    worker = WorkerProcess("customers", settings, log)
    worker.start()
    try:
        await worker.wait_ready()
        await _publish(settings, plans, first)
        await _firings(settings, 1, isolation="read_uncommitted", idle_ms=0)  # firing began
        # The first wave is often all fired by now (the producer rides a restart out with
        # its own retries): the restart meets the loops polling, the second wave after it.
        own_broker.run("stop")
        own_broker.run("start")
        await _publish(settings, [], second)
        seen = await _firings(settings, len(plans) * 2 * WAVE)
        await asyncio.sleep(2)
        assert worker.process is not None
        assert worker.process.poll() is None, worker.log()[-3000:].decode(errors="replace")
        await worker.wait_ready(timeout=60)
    finally:
        worker.stop()
    _exactly_once(seen, plans, first + second)


async def test_the_engine_waits_out_a_watermark_read_that_redis_failed(
    settings: Settings, topics: Callable[..., Any], redis_url: str
) -> None:
    """In process, fast: the engine's read of how far the projection got (a Redis GET in
    the worker) fails as a stalled Redis does; the engine recovers and fires once."""
    await topics(*FIRING_TOPICS)
    settings = settings.model_copy(update={"redis_url": redis_url})
    failures = 3
    calls = 0

    async def stalled_then_caught_up() -> datetime | None:
        nonlocal calls
        calls += 1
        if calls <= failures:
            raise RedisTimeoutError("Timeout reading from redis")
        return clock.now

    clock = FixedClock(STARTS)
    aborted_before = _aborted()
    plan = automated_plan("plan-1", {"type": "new_follower"}, STARTS, STARTS + timedelta(days=9))
    async with running_engine(settings, clock) as h:
        await h.start_plan(plan)
        clock.now = STARTS + timedelta(hours=1)
        await h.arm("c-a", [followed(clock.now)])
        h.engine.watermark = stalled_then_caught_up
        assert await eventually(lambda: _fired(h, 1), timeout=60)
        await h.arm("c-b", [followed(clock.now)])
        fired = await h.at(clock.now)
    assert calls > failures
    # Each failed read abandoned its pass under the shared recovery policy.
    assert _aborted() - aborted_before == failures
    assert sorted((f.plan_id, f.customer_id) for f in fired) == [
        ("plan-1", "c-a"),
        ("plan-1", "c-b"),
    ]


async def _fired(h: Harness, count: int) -> bool:
    return len(await h.firings.read(idle_ms=200)) >= count


def _aborted() -> float:
    return REGISTRY.get_sample_value("crm_customers_firing_transactions_aborted_total") or 0.0
