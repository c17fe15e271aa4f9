"""A big plan fans out in parallel (issue 16): its dispatch is split into shards on the
partitions of crm.delivery-shards and three `crm worker delivery` processes fan the
shards out side by side; one is killed with SIGKILL in the middle and a fourth joins.
A read_committed consumer of crm.outbound-messages sees each (plan, customer) exactly
once and none missing; each shard completes once, and the plan processor's rule
completes the plan once with the shards' counts summed."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from pathlib import Path

import pytest

from schemas.delivery import DeliveryProgressed, PlanShardAssigned
from schemas.plans import CompletePlan
from services.delivery.domain.recipients import shard_of
from services.delivery.performance.store import PerformanceStore, performance_prefix
from services.outreach.domain import lifecycle
from services.outreach.domain.lifecycle import Change
from services.shared.codec import decode
from services.shared.kafka import new_consumer
from services.shared.settings import Settings
from services.shared.worker_process import WorkerProcess
from tests.integration.delivery.support import (
    DELIVERY_TOPICS,
    committed,
    dispatch,
    one_time_plan,
    shop,
)
from tests.integration.delivery.test_fan_out_crash import Topics, _outbound_pairs
from tests.integration.delivery.test_fan_out_scaled import _handled
from tests.integration.outreach.support import eventually

pytestmark = pytest.mark.integration

BIG = 30_000
SMALL = 600  # under the threshold: fanned out whole, as before
SHARDS = 6  # the partitions of crm.delivery-shards


async def test_a_big_plan_is_sharded_over_three_processes_and_survives_a_kill(
    settings: Settings, topics: Topics, tmp_path: Path
) -> None:
    await topics(*DELIVERY_TOPICS)
    big = one_time_plan("p-big", seller="s1")
    small = one_time_plan("p-small", seller="s2")
    customers = [f"c{n:06d}" for n in range(BIG)]
    env = {"CRM_DELIVERY_CHUNK_SIZE": "500", "CRM_DELIVERY_SHARD_THRESHOLD": "10000"}
    workers = [
        WorkerProcess("delivery", settings, tmp_path / f"delivery{n}.log", **env) for n in range(4)
    ]
    async with shop(settings) as store:
        for seller in ("s1", "s2"):
            await store.activate(seller)
        await store.members(big.segment_id, customers, seller="s1")
        await store.members(small.segment_id, customers[:SMALL], seller="s2")
        for worker in workers[:3]:
            worker.start()
        ports = [await worker.wait_ready() for worker in workers[:3]]
        await asyncio.sleep(5)  # the three joined one group generation
        try:
            await dispatch(settings, big, small)
            victim = None
            for _ in range(3000):
                for n, port in enumerate(ports):
                    if await _handled(port) >= 1000:
                        victim = n
                        break
                if victim is not None:
                    break
                await asyncio.sleep(0.02)
            assert victim is not None, "no fan-out got under way"
            workers[victim].kill9()
            workers[3].start()
            await workers[3].wait_ready()
            commands = await committed(
                settings, "crm.plan-commands", expected=SHARDS + 1, wait_s=240
            )
            # The performance projection (in the workers) sums the shards' latest counts.
            figures = PerformanceStore(store.redis, performance_prefix(settings), store.store)

            async def whole() -> dict[str, str] | None:
                [found] = await figures.plan_figures("s1", [big.plan_id])
                return found if found.get("done") == "1" else None

            performance = await eventually(whole, timeout=60)
        finally:
            for worker in workers:
                worker.stop()
    completions = [c for c in commands if isinstance(c, CompletePlan)]
    of_big = [c for c in completions if c.plan_id == big.plan_id]
    of_small = [c for c in completions if c.plan_id == small.plan_id]
    # Each shard completed once, with its own members' count.
    assert sorted(c.shard for c in of_big) == list(range(SHARDS))
    assert {c.shard_count for c in of_big} == {SHARDS}
    expected_sizes: defaultdict[int, int] = defaultdict(int)
    for customer in customers:
        expected_sizes[shard_of(customer, SHARDS)] += 1
    assert {c.shard: c.recipients for c in of_big} == dict(expected_sizes)
    assert all(c.sent == c.recipients for c in of_big)
    assert [(c.shard_count, c.recipients) for c in of_small] == [(1, SMALL)]

    # The processor's rule completes the plan once, whatever the order (and repeats).
    plan = big.model_copy(update={"status": "sending"})
    reports = of_big + random.sample(of_big, 3)
    random.shuffle(reports)
    events: list[str] = []
    for command in reports:
        decision = lifecycle.complete(plan, command, big.updated_at)
        if isinstance(decision, Change):
            plan, events = decision.plan, [*events, decision.event]
    assert events.count("PlanCompleted") == 1
    assert (plan.status, plan.recipients, plan.sent) == ("completed", BIG, BIG)

    assert performance is not None
    assert (performance["recipients"], performance["sent"]) == (str(BIG), str(BIG))

    # Exactly once on the output: every (plan, customer), none twice, none missing.
    total = BIG + SMALL
    seen = await _outbound_pairs(settings, total)
    assert len(seen) == total
    assert set(seen.values()) == {1}
    expected = {(big.plan_id, c) for c in customers} | {
        (small.plan_id, c) for c in customers[:SMALL]
    }
    assert set(seen) == expected

    # The split was written once; each shard's latest progress is done, summing to the plan.
    splits = await _split_records(settings)
    assert sorted((partition, s.shard) for partition, s in splits) == [
        (n, n) for n in range(SHARDS)
    ]
    progress = await committed(settings, "crm.delivery-progress", expected=1)
    latest: dict[int, DeliveryProgressed] = {}
    for record in progress:
        if isinstance(record, DeliveryProgressed) and record.plan_id == big.plan_id:
            latest[record.shard] = record  # one partition: in commit order
    assert sum(r.recipients for r in latest.values()) == BIG
    assert all(r.done for r in latest.values())
    # More than one process fanned shards out.
    finishers = [w for w in workers if b"fan_out_completed" in w.log_path.read_bytes()]
    assert len(finishers) >= 2, [w.log_path.name for w in finishers]


async def _split_records(settings: Settings) -> list[tuple[int, PlanShardAssigned]]:
    """(partition, record) of every committed shard record."""
    consumer = new_consumer(settings, "crm.delivery-shards", group_id=None)
    await consumer.start()
    found: list[tuple[int, PlanShardAssigned]] = []
    try:
        while batch := await consumer.getmany(timeout_ms=3000):
            for record in (r for rs in batch.values() for r in rs):
                event = decode("crm.delivery-shards", record.value)
                assert isinstance(event, PlanShardAssigned)
                found.append((record.partition, event))
    finally:
        await consumer.stop()
    return found
