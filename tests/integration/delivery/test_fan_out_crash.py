"""kill -9 `crm worker delivery` in the middle of a 200,000-recipient fan-out, restart it,
and again at other points: a read_committed consumer of crm.outbound-messages sees each
(plan, customer) exactly once and none missing, and the plan completes once. The plan
goes out whole here (the shard threshold above it): the chunks and checkpoints every
shard of a big plan goes through (test_fan_out_sharded.py kills a sharded one)."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import orjson
import pytest

from services.shared.kafka import new_consumer
from services.shared.settings import Settings
from services.shared.worker_process import WorkerProcess
from tests.integration.delivery.support import (
    DELIVERY_TOPICS,
    completion,
    dispatch,
    final_progress,
    one_time_plan,
    shop,
    when_handled,
)

pytestmark = pytest.mark.integration

Topics = Callable[..., Awaitable[list[str]]]
RECIPIENTS = 200_000
# Whole (the shard threshold above the plan), in chunks of 10,000: the crash points
# below name the 3rd and 5th chunks of a run.
WHOLE = {"CRM_DELIVERY_SHARD_THRESHOLD": str(RECIPIENTS), "CRM_DELIVERY_CHUNK_SIZE": "10000"}


async def test_three_kills_in_one_fan_out_lose_and_duplicate_nothing(
    settings: Settings, topics: Topics, tmp_path: Path
) -> None:
    await topics(*DELIVERY_TOPICS)
    customers = [f"c{n:06d}" for n in range(RECIPIENTS)]
    plan = one_time_plan("big", texts={"en": "Flash sale", "th": "ลดราคา"})
    log = tmp_path / "delivery.log"
    async with shop(settings) as seller:
        await seller.activate()
        await seller.members(plan.segment_id, customers)
        await seller.languages({c: "th" for c in customers[::3]})
        await dispatch(settings, plan)
        # 1. inside the 3rd chunk's transaction: its messages sent, not committed;
        # 2. just after the 5th chunk of the next run committed, before anything else;
        # 3. at a random moment later on, from outside.
        for point in ("chunk_sent@3", "chunk_committed@5"):
            worker = WorkerProcess(
                "delivery", settings, log, CRM_DELIVERY_CRASH_POINT=point, **WHOLE
            )
            worker.start()
            assert await _exits(worker), f"{point} never reached:\n{worker.log()[-2000:]!r}"
        worker = WorkerProcess("delivery", settings, log, **WHOLE)
        worker.start()
        port = await worker.wait_ready()
        # Well before the end: a scrape on a busy machine may take a while, and the fan-out
        # goes on meanwhile (the kill must land inside it).
        target = random.randint(60_000, 140_000)
        killed_at = await when_handled(port, target)
        worker.kill9()
        worker = WorkerProcess("delivery", settings, log, **WHOLE)
        worker.start()
        try:
            done = await completion(settings, "big")
        finally:
            worker.stop()
    # The outside kill landed inside the fan-out, not after it.
    assert killed_at < RECIPIENTS
    assert log.read_bytes().count(b"crashing_on_purpose") == 2
    seen = await _outbound_pairs(settings, RECIPIENTS)
    assert len(seen) == RECIPIENTS
    assert set(seen.values()) == {1}
    assert {c for _, c in seen} == set(customers)
    assert (done.recipients, done.sent, done.suppressed) == (RECIPIENTS, RECIPIENTS, {})
    progress = await final_progress(settings, "big")
    assert progress.done
    assert progress.sent == RECIPIENTS


async def _exits(worker: WorkerProcess, timeout: float = 120) -> bool:
    assert worker.process is not None
    for _ in range(int(timeout * 10)):
        if worker.process.poll() is not None:
            return True
        await asyncio.sleep(0.1)
    worker.kill9()
    return False


async def _outbound_pairs(settings: Settings, expected: int) -> Counter[tuple[str, str]]:
    """(plan, customer) → how often a read_committed consumer sees it; reads until
    `expected` arrived and then 3 s more of nothing, so a duplicate would show."""
    consumer = new_consumer(settings, "crm.outbound-messages", group_id=None)
    await consumer.start()
    seen: Counter[tuple[str, str]] = Counter()
    total = 0
    try:
        while True:
            batch = await consumer.getmany(
                timeout_ms=3000 if total >= expected else 10_000, max_records=20_000
            )
            if not batch:
                break
            for record in (r for rs in batch.values() for r in rs):
                value = orjson.loads(record.value)
                seen[(value["plan_id"], value["customer_id"])] += 1
                total += 1
    finally:
        await consumer.stop()
    return seen
