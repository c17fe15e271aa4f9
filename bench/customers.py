"""`crm bench` entries of the customers service, each beside a raw redis-py baseline
measured on the same keys in the same run (lower is better: ratios are times).

- `segments_recompute`: 1,000,000 synthetic relationships over 1,000 sellers (written
  with pipelining), then the full recompute of every seller — scan, judge the seven
  built-in segments and the sellers' custom ones, write the memberships. Baseline
  `redis_pipelined_scan`: HSCAN of the same hashes, pipelined across sellers, no decoding.
  Goal: 60 s on this two-core machine.
- `segments_preview`: one 100,000-customer shop with profiles, and the preview count of
  the SPEC's 3-condition Java example, as the API's handler runs it, N times (p50/p99).
  Baseline `redis_hscan_one_shop`: HSCAN of that shop's hash alone, N times.

Every key goes afterwards.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis

from bench import customers_data
from bench.baselines import percentile
from bench.harness import BenchContext, Benchmark
from schemas.markets import MARKET_TIME_ZONES
from schemas.segments import SegmentCondition, SegmentDefined
from services.customers.definitions import SegmentDefinitions
from services.customers.domain.conditions import Condition
from services.customers.domain.cutoff import cutoff
from services.customers.domain.recompute_days import local_today
from services.customers.recompute import PREVIEW_PAGE, Recompute, count_matching
from services.customers.store import (
    SCAN_PAGE,
    RedisCustomerStore,
    customer_store,
    customers_prefix,
    customers_redis,
)
from services.shared.settings import Settings

SELLERS = 1_000
PER_SELLER = 1_000
SHOP_CUSTOMERS = 100_000
PREVIEWS = 20
# One seller in ten has a custom segment (without profile conditions) to judge too.
CUSTOM_EVERY = 10
SCAN_PIPELINE = 8
JAVA_BUYERS: list[dict[str, Any]] = [
    {"field": "region", "op": "in", "value": list(customers_data.JAVA)},
    {"field": "is_follower", "op": "is_true", "value": None},
    {"field": "order_count", "op": "eq", "value": 0},
]
LOYAL_VISITORS: list[dict[str, Any]] = [
    {"field": "is_follower", "op": "is_true", "value": None},
    {"field": "days_since_last_view", "op": "lte", "value": 30},
    {"field": "order_count", "op": "gte", "value": 1},
]


def _seconds(started: float) -> float:
    return round(time.perf_counter() - started, 3)


async def pipelined_scan(redis: aioredis.Redis, keys: list[str], page: int) -> int:
    """HSCAN every key to the end, `SCAN_PIPELINE` hashes per round trip; entries seen."""
    pending: Iterator[str] = iter(keys)
    active: dict[str, int] = {}
    seen = 0
    while True:
        while len(active) < SCAN_PIPELINE and (key := next(pending, None)) is not None:
            active[key] = 0
        if not active:
            return seen
        pipe = redis.pipeline(transaction=False)
        for key, cursor in active.items():
            pipe.hscan(key, cursor, count=page)
        answers = await pipe.execute()
        for key, (cursor, chunk) in zip(list(active), answers, strict=True):
            seen += len(chunk)
            if cursor == 0:
                del active[key]
            else:
                active[key] = cursor


async def segments_recompute(ctx: BenchContext) -> dict[str, Any]:
    settings = ctx.settings
    redis = customers_redis(settings)
    store = customer_store(settings, redis)
    definitions = SegmentDefinitions(redis, customers_prefix(settings))
    rng = random.Random(20240703)
    now = datetime.now(UTC)
    try:
        sellers = [f"bench-{ctx.run_id}-s{n:04d}" for n in range(SELLERS)]
        started = time.perf_counter()
        pool = customers_data.relationship_pool(rng, now)
        pairs = customers_data.dealt(rng, pool, sellers, PER_SELLER, "")
        written = await customers_data.write_pairs(store, pairs)
        markets = sorted(MARKET_TIME_ZONES)
        await store.set_markets({s: rng.choice(markets) for s in sellers})
        for offset, seller in enumerate(sellers[::CUSTOM_EVERY]):
            await definitions.apply(_defined(seller, "loyal-visitors", LOYAL_VISITORS), offset)
        setup_seconds = _seconds(started)

        started = time.perf_counter()
        scanned = await pipelined_scan(redis, [store.rel_key(s) for s in sellers], SCAN_PAGE)
        raw_seconds = _seconds(started)
        ctx.results["redis_pipelined_scan"] = {
            "count": scanned,
            "seconds": raw_seconds,
            "per_second": round(scanned / raw_seconds, 1),
        }

        started = time.perf_counter()
        done = await Recompute(store, definitions, lambda: now).everyone()
        seconds = _seconds(started)
    finally:
        await _delete_keys(redis, settings)
        await redis.aclose()
    judged = sum(d.customers for d in done)
    if judged != written or any(d.skipped for d in done):
        raise RuntimeError(f"recompute judged {judged} of {written} relationships")
    return {
        "count": judged,
        "sellers": len(done),
        "seconds": seconds,
        "per_second": round(judged / seconds, 1),
        "setup_seconds": setup_seconds,
        "goal_seconds": 60,
        "ratio": round(seconds / raw_seconds, 2),
        "baseline": "redis_pipelined_scan",
    }


async def segments_preview(ctx: BenchContext) -> dict[str, Any]:
    settings = ctx.settings
    redis = customers_redis(settings)
    store = customer_store(settings, redis)
    rng = random.Random(20240704)
    now = datetime.now(UTC)
    seller = f"bench-{ctx.run_id}-shop"
    try:
        pool = customers_data.relationship_pool(rng, now)
        pairs = customers_data.dealt(rng, pool, [seller], SHOP_CUSTOMERS, f"{ctx.run_id}-")
        await customers_data.write_pairs(store, pairs)
        await store.set_markets({seller: "ID"})
        customers = [f"{ctx.run_id}-c{n}" for n in range(SHOP_CUSTOMERS)]
        await _write_profiles(store, rng, now, customers)
        conditions = [Condition.model_validate(c) for c in JAVA_BUYERS]
        cut = cutoff(local_today("ID", now), "ID")

        raw: list[float] = []
        for _ in range(PREVIEWS):
            started = time.perf_counter()
            await pipelined_scan(redis, [store.rel_key(seller)], PREVIEW_PAGE)
            raw.append(time.perf_counter() - started)
        latencies: list[float] = []
        count = 0
        for _ in range(PREVIEWS):
            started = time.perf_counter()
            count = await count_matching(store, seller, conditions, cut)
            latencies.append(time.perf_counter() - started)
    finally:
        await _delete_keys(redis, settings)
        await redis.aclose()
    raw.sort()
    latencies.sort()
    ctx.results["redis_hscan_one_shop"] = _latencies(raw, SHOP_CUSTOMERS)
    result = _latencies(latencies, SHOP_CUSTOMERS)
    result.update(
        members=count,
        ratio=round(result["p50_ms"] / ctx.results["redis_hscan_one_shop"]["p50_ms"], 2),
        baseline="redis_hscan_one_shop",
    )
    return result


def _latencies(sorted_seconds: list[float], customers: int) -> dict[str, Any]:
    return {
        "count": len(sorted_seconds),
        "customers": customers,
        "seconds": round(sum(sorted_seconds), 3),
        "p50_ms": round(percentile(sorted_seconds, 0.50) * 1000, 1),
        "p99_ms": round(percentile(sorted_seconds, 0.99) * 1000, 1),
    }


async def _write_profiles(
    store: RedisCustomerStore, rng: random.Random, now: datetime, customers: list[str]
) -> None:
    for start in range(0, len(customers), customers_data.WRITE_BATCH):
        chunk = customers[start : start + customers_data.WRITE_BATCH]
        await store.save_profiles({c: customers_data.profile(rng, c, now) for c in chunk})


def _defined(seller: str, segment_id: str, conditions: list[dict[str, Any]]) -> SegmentDefined:
    return SegmentDefined(
        event_id=uuid.uuid4(),
        occurred_at=datetime.now(UTC),
        seller_id=seller,
        segment_id=segment_id,
        account_id=seller,
        name=segment_id,
        conditions=[SegmentCondition.model_validate(c) for c in conditions],
    )


async def _delete_keys(redis: aioredis.Redis, settings: Settings) -> None:
    keys = [k async for k in redis.scan_iter(match=f"{settings.topic_prefix}*", count=10_000)]
    for start in range(0, len(keys), 1000):
        await redis.delete(*keys[start : start + 1000])


BENCHMARKS: dict[str, Benchmark] = {
    "segments_recompute": segments_recompute,
    "segments_preview": segments_preview,
}
