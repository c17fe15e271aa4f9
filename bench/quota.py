"""`crm bench` entries, each as a ratio to the raw EVALSHA baseline measured earlier in
the same run:

- `quota_reserve`: reservations per second through the whole adapter (script, ledger
  write acknowledged by Kafka, confirmation);
- `quota_cap_many`: frequency-cap decisions per second asked in delivery's pages of
  5,000 customers of one seller, three plans to the same customers (the third capped).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.baselines import percentile, rate
from bench.harness import BenchContext, Benchmark
from demo.sample_status import sample_status
from services.quota.adapter import RedisQuota, open_quota
from services.quota.domain.frequency_cap import frequency_cap_for
from services.quota.ledger_topic import LEDGER_TOPIC
from services.quota.redis_store import quota_redis
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
    result = rate(len(latencies), elapsed)
    result.update(
        clients=ctx.clients,
        p50_ms=round(percentile(latencies, 0.50) * 1000, 3),
        p99_ms=round(percentile(latencies, 0.99) * 1000, 3),
    )
    raw = ctx.results.get(BASELINE, {}).get("per_second")
    if raw:
        result.update(ratio=round(result["per_second"] / raw, 3), baseline=BASELINE)
    return result


CAP_CUSTOMERS = 100_000
CAP_PLANS = 3
CAP_PAGE = 5_000


async def quota_cap_many(ctx: BenchContext) -> dict[str, Any]:
    settings = ctx.settings
    await create_topics(settings, [LEDGER_TOPIC])
    try:
        async with open_quota(settings) as quota:
            seller = f"bench-{ctx.run_id}-cap"
            await quota.store.put_status(sample_status(seller), 0)
            customers = [f"customer-{n}" for n in range(CAP_CUSTOMERS)]
            plans = [f"plan-{n}" for n in range(CAP_PLANS)]
            latencies, elapsed = await cap_pages(quota, seller, customers, plans, CAP_PAGE)
    finally:
        await delete_topics(settings, [LEDGER_TOPIC])
        await _delete_keys(settings)
    latencies.sort()
    result = rate(CAP_CUSTOMERS * CAP_PLANS, elapsed)
    result.update(
        page=CAP_PAGE,
        p50_ms=round(percentile(latencies, 0.50) * 1000, 3),
        p99_ms=round(percentile(latencies, 0.99) * 1000, 3),
    )
    raw = ctx.results.get(BASELINE, {}).get("per_second")
    if raw:
        result.update(ratio=round(result["per_second"] / raw, 3), baseline=BASELINE)
    return result


async def cap_pages(
    quota: RedisQuota, seller: str, customers: Sequence[str], plans: Sequence[str], page: int
) -> tuple[list[float], float]:
    """Each plan to every customer, a day apart, in pages: (each page's seconds, total).
    Every decision is checked: the first `max_messages` plans allowed, the rest capped."""
    market = await quota.store.seller_market(seller)
    allowed_plans = frequency_cap_for(quota.policies, market).max_messages
    day = datetime.now(UTC)
    latencies: list[float] = []
    start = time.perf_counter()
    for n, plan in enumerate(plans):
        expected = "allowed" if n < allowed_plans else "frequency_capped"
        for first in range(0, len(customers), page):
            messages = [(c, plan) for c in customers[first : first + page]]
            started = time.perf_counter()
            decisions = await quota.may_send_many(seller, messages, day + timedelta(days=n))
            latencies.append(time.perf_counter() - started)
            if any(d.outcome != expected for d in decisions):
                raise RuntimeError(f"benchmark cap decision not {expected} for {plan}")
    return latencies, time.perf_counter() - start


async def _delete_keys(settings: Settings) -> None:
    redis = quota_redis(settings)
    try:
        keys = [key async for key in redis.scan_iter(match=f"{settings.topic_prefix}*", count=1000)]
        for start in range(0, len(keys), 1000):
            await redis.delete(*keys[start : start + 1000])
    finally:
        await redis.aclose()


BENCHMARKS: dict[str, Benchmark] = {
    "quota_reserve": quota_reserve,
    "quota_cap_many": quota_cap_many,
}
