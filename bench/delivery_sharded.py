"""`crm bench` entry `fanout_sharded` (issue 16): one 1,000,000-recipient plan fanned out
by 2 and then by 3 `crm worker delivery` processes sharing the partitions. The dispatch
is split into shards (one per partition of crm.delivery-shards) and each process fans
out the shards its partitions hold. Timed from the PlanDispatched being published to
every shard's last transaction committed; then a read_committed consumer counts what
reached crm.outbound-messages: exactly 1,000,000 records, 1,000,000 distinct (plan,
customer), none twice. Each process count gets a seller of its own (the frequency cap
would otherwise suppress the second run) and topics of its own.

On a 2-core machine more processes do not add speed; the figure shows what the split
costs and that the work is shared (how many processes fanned out a shard).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

import orjson

from bench.delivery import (
    RECIPIENTS,
    _clean,
    _committed_count,
    _dispatch,
    _peak_rss_mb,
    _plan,
    _progress_watch,
    _seed,
)
from bench.harness import BenchContext, Benchmark
from schemas.topics import KEYED_PARTITIONS
from services.delivery.fanout import INPUTS
from services.delivery.worker import WORKER_TOPICS
from services.shared.kafka import create_topics
from services.shared.worker_process import WorkerProcess

PROCESS_COUNTS = (2, 3)
WARM_UP_SEGMENT = "repeat_customers"  # no members seeded


async def _run(ctx: BenchContext, processes: int) -> dict[str, Any]:
    settings = ctx.settings.model_copy(
        update={"topic_prefix": f"{ctx.settings.topic_prefix}x{processes}."}
    )
    seller = f"bench-{ctx.run_id}-shop{processes}"
    customers = [f"c{n:07d}" for n in range(RECIPIENTS)]
    plan = _plan(seller)
    await create_topics(settings, list(WORKER_TOPICS))
    await _seed(settings, seller, customers)
    del customers
    logs = [
        Path(tempfile.gettempdir()) / f"crm-bench-{ctx.run_id}-sharded{processes}-{n}.log"
        for n in range(processes)
    ]
    workers = [WorkerProcess("delivery", settings, log) for log in logs]
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            await worker.wait_ready()
        async with _progress_watch(settings) as completed:
            # Ready is not yet consuming; and the group settles once all have joined.
            warm_up = plan.model_copy(
                update={"plan_id": "bench-warm-up", "segment_id": WARM_UP_SEGMENT}
            )
            await _dispatch(settings, warm_up)
            await asyncio.wait_for(completed(warm_up.plan_id), 600)
            await _shared_out(logs)
            load_before = os.getloadavg()[0]
            started = time.perf_counter()
            await _dispatch(settings, plan)
            await asyncio.wait_for(completed(plan.plan_id), 900)
            seconds = time.perf_counter() - started
        peak_rss_mb = max(_peak_rss_mb(w.process.pid) for w in workers if w.process is not None)
    finally:
        for worker in workers:
            worker.stop()
    records, distinct = await _committed_count(settings)
    sharing = sum(1 for log in logs if b'"fan_out_completed"' in log.read_bytes())
    await _clean(ctx, settings)
    per_second = RECIPIENTS / seconds
    return {
        "processes": processes,
        "count": RECIPIENTS,
        "seconds": round(seconds, 3),
        "per_second": round(per_second, 1),
        "committed_records": records,
        "committed_distinct_customers": distinct,
        "exactly_once": records == distinct == RECIPIENTS,
        "processes_that_fanned_out_a_shard": sharing,
        "peak_rss_mb": peak_rss_mb,
        "load_average_1m_before": round(load_before, 2),
        "load_average_1m_after": round(os.getloadavg()[0], 2),
        "worker_logs": [str(log) for log in logs],
    }


def _latest_assignment(log: Path) -> frozenset[str]:
    latest: frozenset[str] = frozenset()
    for line in log.read_bytes().splitlines():
        if b"partition_outputs_assigned" in line:
            with suppress(ValueError):
                latest = frozenset(orjson.loads(line).get("partitions", ()))
    return latest


async def _shared_out(logs: list[Path], timeout: float = 180) -> None:
    """Until the group settled: each process owns a share of the delivery inputs, the
    shares disjoint and together all of them, the same over two looks 2 s apart."""
    inputs = len(INPUTS) * KEYED_PARTITIONS
    previous: list[frozenset[str]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        shares = [_latest_assignment(log) for log in logs]
        whole = all(shares) and sum(map(len, shares)) == len(frozenset().union(*shares))
        if whole and len(frozenset().union(*shares)) == inputs and shares == previous:
            return
        previous = shares
        await asyncio.sleep(2)
    raise TimeoutError("the delivery processes did not settle into one group")


async def fanout_sharded(ctx: BenchContext) -> dict[str, Any]:
    """Both runs under their own names in the results; the return is the last one's."""
    result: dict[str, Any] = {}
    for processes in PROCESS_COUNTS:
        result = await _run(ctx, processes)
        ctx.results[f"fanout_sharded_{processes}_processes"] = result
    return {}


BENCHMARKS: dict[str, Benchmark] = {"fanout_sharded": fanout_sharded}
