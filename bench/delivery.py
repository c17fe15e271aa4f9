"""`crm bench` entries of the delivery service:

- `delivery_raw_produce_batched`: the raw ceiling. The same 1,000,000 OutboundMessage
  payloads (rendered beforehand, in each customer's language), produced with plain
  aiokafka in per-partition batches (`create_batch`/`send_batch`, idempotent, acks=all)
  to a topic laid out like crm.outbound-messages, on the same broker, in the same run.
- `delivery_fan_out`: `crm worker delivery` as its own process fans one plan out to a
  1,000,000-member segment: the block list, the frequency cap (quota's batched script),
  the profiles (two languages), encoding, and one Kafka transaction per chunk with its
  progress record, the last with the completion. Timed, once a warm-up plan showed the
  worker consuming, from the PlanDispatched being published to the last transaction
  committed (its done progress record read), as a
  ratio of messages/s to the raw baseline above. Also the worker's peak RSS (VmHWM),
  and a read_committed count of what reached the topic (must be exactly 1,000,000).

Goals (issue 7): all committed in ≤ 30 s, ≥ 50 % of raw, peak RSS ≤ 1 GiB.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson

from bench import baselines
from bench.delivery_heal import projections_heal
from bench.harness import BenchContext, Benchmark
from demo.sample_status import sample_status
from schemas.delivery import DeliveryProgressed
from schemas.plans import Plan, PlanDispatched
from services.customers.port import Profile, customer_store, customers_redis, mark_whole
from services.delivery.rendering import PlanRenderer, fast_message_id
from services.delivery.worker import WORKER_TOPICS
from services.quota.adapter import open_quota
from services.shared.codec import decode, encode
from services.shared.kafka import create_topics, delete_prefixed_topics, new_consumer, new_producer
from services.shared.settings import Settings
from services.shared.worker_process import WorkerProcess

RECIPIENTS = int(os.environ.get("CRM_BENCH_FANOUT_RECIPIENTS", "1000000"))
SEGMENT = "followers_not_purchased"
WARM_UP_SEGMENT = "repeat_customers"  # no members seeded
RAW = "delivery_raw_produce_batched"
GOAL_SECONDS = 30.0
GOAL_RATIO = 0.5
GOAL_RSS_MB = 1024
# One customer in three has a Thai app language; the plan has Thai and English texts.
THAI_EVERY = 3


def _plan(seller: str) -> Plan:
    now = datetime.now(UTC)
    return Plan.model_validate(
        {
            "plan_id": "bench-plan",
            "seller_id": seller,
            "created_by": f"{seller}-owner",
            "type": "one_time",
            "name": "Bench flash sale",
            "segment_id": SEGMENT,
            "content": {
                "default_language": "en",
                "texts": {
                    "en": "Flash sale tonight: 20% off everything you looked at this week.",
                    "th": "แฟลชเซลคืนนี้ ลด 20% ทุกชิ้นที่คุณดูในสัปดาห์นี้",
                },
                "product_ids": ["p-100", "p-200", "p-300"],
                "coupon_id": "cp-20off",
                "button": {"type": "product_list"},
            },
            "send_now": True,
            "status": "sending",
            "version": 3,
            "created_at": now,
            "updated_at": now,
            "submitted_at": now,
            "quota_at": now,
            "dispatched_at": now,
        }
    )


async def _seed(settings: Settings, seller: str, customers: list[str]) -> None:
    """The segment's members as of today, Thai profiles, an active seller."""
    redis = customers_redis(settings)
    try:
        store = customer_store(settings, redis)
        await store.write_memberships(seller, date.today(), {SEGMENT: customers})
        await mark_whole(settings, redis)  # standing in for the customers worker
        thai = Profile(language="th", updated_at=datetime.now(UTC))
        page = 60_000
        for start in range(0, len(customers), page):
            chunk = customers[start : start + page : THAI_EVERY]
            await store.save_profiles(dict.fromkeys(chunk, thai))
    finally:
        await redis.aclose()
    async with open_quota(settings) as quota:
        await quota.store.put_status(sample_status(seller), 1)


def _payloads(plan: Plan, customers: list[str]) -> list[tuple[bytes, bytes]]:
    """What the worker will produce: each customer's message in their language."""
    renderer = PlanRenderer(plan, datetime.now(UTC))
    prefix = plan.plan_id.encode() + b"/"
    return [
        (
            c.encode(),
            renderer.render(c, fast_message_id(prefix, c), "th" if n % THAI_EVERY == 0 else "en"),
        )
        for n, c in enumerate(customers)
    ]


async def _raw_baseline(ctx: BenchContext, plan: Plan, customers: list[str]) -> dict[str, Any]:
    raw = ctx.settings.model_copy(update={"topic_prefix": f"{ctx.settings.topic_prefix}raw."})
    await create_topics(raw, ["crm.outbound-messages"])
    try:
        pairs = _payloads(plan, customers)
        return await baselines.produce_batched(
            raw.kafka_bootstrap, raw.topic("crm.outbound-messages"), pairs
        )
    finally:
        await delete_prefixed_topics(raw)


@asynccontextmanager
async def _progress_watch(
    settings: Settings,
) -> AsyncIterator[Callable[[str], Awaitable[None]]]:
    """Waits for a plan's last progress record (done) to be committed: the moment its
    fan-out's last transaction commits, seen as a read_committed consumer sees it. (Not
    by polling the worker's /metrics, whose readiness checks would load the worker.)"""
    consumer = new_consumer(settings, "crm.delivery-progress", group_id=None)
    await consumer.start()

    async def completed(plan_id: str) -> None:
        done: set[int] = set()  # a sharded plan is done when each of its shards is
        while True:
            for records in (await consumer.getmany(timeout_ms=100)).values():
                for record in records:
                    progress = decode("crm.delivery-progress", record.value, max_bytes=1 << 20)
                    if not isinstance(progress, DeliveryProgressed):
                        continue
                    if progress.done and progress.plan_id == plan_id:
                        done.add(progress.shard)
                        if len(done) == progress.shard_count:
                            return

    try:
        yield completed
    finally:
        await consumer.stop()


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


async def _committed_count(settings: Settings) -> tuple[int, int]:
    """Records and distinct (plan, customer) pairs a read_committed consumer sees."""
    consumer = new_consumer(settings, "crm.outbound-messages", group_id=None)
    await consumer.start()
    total = 0
    seen: set[str] = set()
    try:
        while batch := await consumer.getmany(timeout_ms=3000, max_records=50_000):
            for records in batch.values():
                for record in records:
                    total += 1
                    seen.add(orjson.loads(record.value)["customer_id"])
    finally:
        await consumer.stop()
    return total, len(seen)


async def _dispatch(settings: Settings, plan: Plan) -> None:
    producer = new_producer(settings)
    await producer.start()
    try:
        event = PlanDispatched(
            event_id=uuid.uuid4(),
            occurred_at=datetime.now(UTC),
            seller_id=plan.seller_id,
            plan_id=plan.plan_id,
            correlation_id=None,
            plan=plan,
        )
        await producer.send_and_wait(
            settings.topic("crm.plan-events"), encode(event), key=plan.seller_id.encode()
        )
    finally:
        await producer.stop()


async def delivery_fan_out(ctx: BenchContext) -> dict[str, Any]:
    settings = ctx.settings
    seller = f"bench-{ctx.run_id}-shop"
    customers = [f"c{n:07d}" for n in range(RECIPIENTS)]
    plan = _plan(seller)
    await create_topics(settings, list(WORKER_TOPICS))
    await _seed(settings, seller, customers)
    ctx.results[RAW] = await _raw_baseline(ctx, plan, customers)
    log = Path(tempfile.gettempdir()) / f"crm-bench-{ctx.run_id}-delivery.log"
    worker = WorkerProcess("delivery", settings, log)
    worker.start()
    try:
        await worker.wait_ready()
        async with _progress_watch(settings) as completed:
            # Ready is not yet consuming: the group still assigns the partitions. A plan
            # of an empty segment first, so the timing starts with a worker at work.
            warm_up = _plan(seller).model_copy(
                update={"plan_id": "bench-warm-up", "segment_id": WARM_UP_SEGMENT}
            )
            await _dispatch(settings, warm_up)
            await asyncio.wait_for(completed(warm_up.plan_id), 600)
            started = time.perf_counter()
            await _dispatch(settings, plan)
            await asyncio.wait_for(completed(plan.plan_id), 600)
            seconds = time.perf_counter() - started
        assert worker.process is not None
        peak_rss_mb = _peak_rss_mb(worker.process.pid)
    finally:
        worker.stop()
    records, distinct = await _committed_count(settings)
    await _clean(ctx, settings)
    per_second = RECIPIENTS / seconds
    ratio = per_second / ctx.results[RAW]["per_second"]
    return {
        "count": RECIPIENTS,
        "seconds": round(seconds, 3),
        "per_second": round(per_second, 1),
        "ratio": round(ratio, 3),
        "baseline": RAW,
        "peak_rss_mb": peak_rss_mb,
        "committed_records": records,
        "committed_distinct_customers": distinct,
        "goal_seconds_met": seconds <= GOAL_SECONDS,
        "goal_ratio_met": ratio >= GOAL_RATIO,
        "goal_rss_met": peak_rss_mb <= GOAL_RSS_MB,
        "worker_log": str(log),
    }


async def _clean(ctx: BenchContext, settings: Settings) -> None:
    await delete_prefixed_topics(settings)
    redis = customers_redis(settings)
    try:
        batch: list[bytes] = []
        async for key in redis.scan_iter(match=f"*{ctx.run_id}*", count=10_000):
            batch.append(key)
            if len(batch) >= 10_000:
                await redis.unlink(*batch)
                batch = []
        if batch:
            await redis.unlink(*batch)
    finally:
        await redis.aclose()


BENCHMARKS: dict[str, Benchmark] = {
    "delivery_fan_out": delivery_fan_out,
    "projections_heal": projections_heal,
}
