"""`crm bench` entry `quota_reserve`: reservations per second through the whole adapter
(script, ledger write acknowledged by Kafka, confirmation), as a ratio to the raw
EVALSHA baseline measured earlier in the same run."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from services.bench.baselines import _percentile, _rate
from services.bench.harness import BenchContext, Benchmark
from services.quota.adapter import open_quota
from services.quota.ledger import LEDGER_TOPIC
from services.quota.redis_store import quota_redis
from services.quota.sample_status import sample_status
from services.shared.kafka import create_topics, delete_topics
from services.shared.settings import Settings

BASELINE = "redis_evalsha"
# Every reservation must succeed: the benchmark measures taking units, not refusals.
_UNLIMITED = 10**9


async def quota_reserve(ctx: BenchContext) -> dict[str, Any]:
    settings = ctx.settings
    await create_topics(settings, [LEDGER_TOPIC])
    latencies: list[float] = []
    try:
        async with open_quota(settings) as quota:
            sellers = [f"bench-{ctx.run_id}-{n}" for n in range(ctx.clients)]
            for offset, seller in enumerate(sellers):
                status = sample_status(seller, level=5, weekly_quota=_UNLIMITED)
                await quota.store.put_status(status, offset)
            await quota.rebuilder.rebuild_if_lost()
            send_at = datetime.now(UTC)
            deadline = time.perf_counter() + ctx.seconds

            async def client(seller: str) -> None:
                n = 0
                while time.perf_counter() < deadline:
                    started = time.perf_counter()
                    answer = await quota.reserve(seller, f"{seller}-{n}", "one_time", send_at)
                    latencies.append(time.perf_counter() - started)
                    if answer.outcome != "reserved":
                        raise RuntimeError(f"benchmark reservation refused: {answer}")
                    n += 1

            start = time.perf_counter()
            await asyncio.gather(*(client(seller) for seller in sellers))
            elapsed = time.perf_counter() - start
    finally:
        await delete_topics(settings, [LEDGER_TOPIC])
        await _delete_keys(settings)
    latencies.sort()
    result = _rate(len(latencies), elapsed)
    result.update(
        clients=ctx.clients,
        p50_ms=round(_percentile(latencies, 0.50) * 1000, 3),
        p99_ms=round(_percentile(latencies, 0.99) * 1000, 3),
    )
    raw = ctx.results.get(BASELINE, {}).get("per_second")
    if raw:
        result.update(ratio=round(result["per_second"] / raw, 3), baseline=BASELINE)
    return result


async def _delete_keys(settings: Settings) -> None:
    redis = quota_redis(settings)
    try:
        keys = [key async for key in redis.scan_iter(match=f"{settings.topic_prefix}*", count=1000)]
        for start in range(0, len(keys), 1000):
            await redis.delete(*keys[start : start + 1000])
    finally:
        await redis.aclose()


BENCHMARKS: dict[str, Benchmark] = {"quota_reserve": quota_reserve}
