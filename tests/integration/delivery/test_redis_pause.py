"""Redis stops answering for longer than the clients wait (CLIENT PAUSE beyond redis-py's
5 s socket timeout) in the middle of a fan-out: `crm worker delivery` keeps running,
redoes what had not committed, and every (plan, customer) is still sent exactly once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from services.shared.settings import Settings
from services.shared.worker_process import WorkerProcess
from tests.integration.delivery.support import (
    DELIVERY_TOPICS,
    committed,
    completion,
    dispatch,
    one_time_plan,
    pairs,
    shop,
    when_handled,
)

pytestmark = pytest.mark.integration

Topics = Callable[..., Awaitable[list[str]]]
RECIPIENTS = 60_000


async def test_a_redis_stall_mid_fan_out_is_ridden_out(
    settings: Settings, topics: Topics, tmp_path: Path
) -> None:
    await topics(*DELIVERY_TOPICS)
    customers = [f"c{n:05d}" for n in range(RECIPIENTS)]
    log = tmp_path / "delivery.log"
    async with shop(settings) as seller:
        await seller.activate()
        await seller.members("followers_not_purchased", customers)
        worker = WorkerProcess("delivery", settings, log, CRM_DELIVERY_CHUNK_SIZE="1000")
        worker.start()
        try:
            port = await worker.wait_ready()
            await dispatch(settings, one_time_plan("p1"))
            stalled_at = await when_handled(port, 10_000)
            admin = aioredis.Redis.from_url(settings.redis_url)
            try:
                await admin.execute_command("CLIENT", "PAUSE", "6500", "ALL")
            finally:
                await admin.aclose(close_connection_pool=True)
            done = await completion(settings, "p1")
            messages = await committed(settings, "crm.outbound-messages", expected=RECIPIENTS)
            assert worker.process is not None
            assert worker.process.poll() is None  # still running
        finally:
            worker.stop()
    assert stalled_at < RECIPIENTS
    assert b"delivery_batch_aborted" in log.read_bytes()
    assert pairs(messages) == {("p1", c): 1 for c in customers}
    assert (done.recipients, done.sent) == (RECIPIENTS, RECIPIENTS)
