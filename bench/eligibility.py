"""`crm bench` entries of the eligibility engine.

eligibility_ingest: events/s through a real worker (rocksdb tables, changelogs),
beside raw aiokafka consume+decode of the very same records in the same run.
eligibility_tick: from EvaluationDue to the last of 100,000 statuses readable.
eligibility_policy_simulate: `crm policy simulate` over the same sellers (state read
back from the changelog, two decisions per seller).
eligibility_state: the compacted changelog's size (latest record per key).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.baselines import consume_topics
from bench.harness import BenchContext, Benchmark
from schemas.topics import topic as registry_topic
from services.eligibility.changelog import read_partition
from services.eligibility.topics import PARTITIONS, TOPICS
from services.eligibility.what_if import simulate
from services.policy import load_policy
from services.policy.domain import PolicyBook
from services.shared import groups
from services.shared.kafka import (
    create_topics,
    delete_prefixed_topics,
    new_consumer,
    new_producer,
)
from services.shared.lag import consumer_lag
from services.shared.worker_process import WorkerProcess

MONTH = "2024-07"  # window 2024-05-22 … 2024-06-21, long closed


def _envelope(event_type: str, at: str) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": at,
    }


def _events(sellers: int, total: int, seed: int = 3) -> list[tuple[str, str, bytes]]:
    """(topic, key, value): one metrics report per seller, the rest engagement."""
    rng = random.Random(seed)
    out = []
    for n in range(sellers):
        seller = f"bench-s{n:06d}"
        report = {
            **_envelope("SellerMetricsReported", "2024-06-02T00:00:00+00:00"),
            "seller_id": seller,
            "market": "TH",
            "metrics_date": "2024-06-01",
            "chats_received": 100,
            "chats_responded_12h": rng.choice([80, 90, 99]),
            "ses": 4.2,
            "violation_points": 1,
            "extra": {},
        }
        out.append(("crm.seller-metrics", seller, json.dumps(report).encode()))
    for n in range(max(0, total - sellers)):
        seller = f"bench-s{rng.randrange(sellers):06d}"
        at = f"2024-06-{1 + n % 20:02d}T10:00:00+07:00"
        base = {"message_id": f"m{n}", "plan_id": "p1", "seller_id": seller, "customer_id": f"c{n}"}
        kind = rng.random()
        if kind < 0.55:
            body = {**_envelope("MessageDelivered", at), **base, "delivered_at": at}
            topic = "crm.chat-engagement"
        elif kind < 0.97:
            body = {**_envelope("MessageRead", at), **base, "read_at": at}
            topic = "crm.chat-engagement"
        else:
            body = {
                **_envelope("ShopBlocked", at),
                "seller_id": seller,
                "customer_id": base["customer_id"],
                "message_id": base["message_id"],
            }
            topic = "crm.shop-blocks"
        out.append((topic, seller, json.dumps(body).encode()))
    rng.shuffle(out)
    return out


async def _produce(ctx: BenchContext, settings: Any, events: list[tuple[str, str, bytes]]) -> None:
    producer = new_producer(settings, linger_ms=5, max_batch_size=512 * 1024)
    await producer.start()
    try:
        futures = [await producer.send(settings.topic(t), v, key=k.encode()) for t, k, v in events]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def _until_caught_up(settings: Any, group: str, timeout: float) -> float:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        rows = await consumer_lag(settings, [group])
        if rows and all(r.lag == 0 for r in rows):
            return time.perf_counter()
        await asyncio.sleep(0.25)
    raise TimeoutError(f"{group} did not catch up in {timeout}s")


async def _statuses(settings: Any, count: int, timeout: float) -> float:
    consumer = new_consumer(settings, "crm.seller-status")
    await consumer.start()
    seen = 0
    deadline = time.perf_counter() + timeout
    try:
        while seen < count and time.perf_counter() < deadline:
            batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
            seen += sum(len(rs) for rs in batch.values())
    finally:
        await consumer.stop()
    if seen < count:
        raise TimeoutError(f"only {seen} of {count} statuses in {timeout}s")
    return time.perf_counter()


async def _simulate(settings: Any) -> dict[str, Any]:
    in_force = load_policy()
    strict = in_force.default.model_copy(
        update={
            "version": "bench-candidate",
            "eligibility": in_force.default.eligibility.model_copy(
                update={"response_rate_min": 0.95}
            ),
        }
    )
    started = time.perf_counter()
    comparison = await simulate(
        settings, in_force, PolicyBook(default=strict, markets={}), "TH", MONTH
    )
    seconds = time.perf_counter() - started
    return {
        "count": comparison.sellers,
        "seconds": round(seconds, 3),
        "per_second": round(comparison.sellers / seconds, 1),
        "access_changes": comparison.access_changes,
        "goal": "<= 30 s for 100,000 sellers",
    }


async def _state_size(settings: Any) -> dict[str, Any]:
    latest: dict[bytes, bytes | None] = {}
    for partition in range(PARTITIONS):
        await read_partition(settings, partition, latest.__setitem__)
    rows = {k: v for k, v in latest.items() if v is not None}
    seller_bytes = sum(len(k) + len(v) for k, v in rows.items() if k.startswith(b"s:"))
    sellers = sum(1 for k in rows if k.startswith(b"s:"))
    mark_bytes = sum(len(k) + len(v) for k, v in rows.items() if k.startswith(b"m:"))
    marks = 0
    for k, v in rows.items():
        if k.startswith(b"m:"):
            body = json.loads(v)
            marks += sum(len(ids) for w in body["m"].values() for a in w.values() for ids in a)
            marks += sum(len(waiting) for waiting in body["w"].values())
    return {
        "sellers": sellers,
        "marks": marks,
        "seller_bytes": seller_bytes,
        "mark_bytes": mark_bytes,
        "mb_per_100k_sellers": round(seller_bytes / max(sellers, 1) * 100_000 / 1e6, 1),
        "mb_per_1m_marks": round(mark_bytes / max(marks, 1) * 1_000_000 / 1e6, 1),
    }


async def eligibility(ctx: BenchContext) -> dict[str, Any]:
    sellers = int(os.environ.get("CRM_BENCH_SELLERS", "100000"))
    total = max(ctx.events, sellers)
    settings = ctx.settings.model_copy(update={"topic_prefix": f"{ctx.settings.topic_prefix}elig."})
    await create_topics(settings, TOPICS)
    events = _events(sellers, total)
    await _produce(ctx, settings, events)
    inputs = {
        settings.topic(t): registry_topic(t).partitions
        for t in ("crm.seller-metrics", "crm.chat-engagement", "crm.shop-blocks")
    }
    raw = await consume_topics(settings.kafka_bootstrap, inputs, len(events), decode_events=True)
    ctx.results["eligibility_consume_decode_baseline"] = raw
    with tempfile.TemporaryDirectory(prefix="crm-bench-elig-") as data:
        worker = WorkerProcess(
            "eligibility",
            settings,
            Path(data) / "worker.log",
            CRM_ELIGIBILITY_SCHEDULER="false",
            CRM_LOG_LEVEL="WARNING",
        )
        worker.start()
        try:
            await worker.wait_ready(timeout=120)
            started = time.perf_counter()
            done = await _until_caught_up(settings, groups.eligibility(settings), 1800)
            seconds = done - started
            ctx.results["eligibility_ingest"] = {
                "count": len(events),
                "seconds": round(seconds, 3),
                "per_second": round(len(events) / seconds, 1),
                "ratio": len(events) / seconds / raw["per_second"],
                "baseline": "eligibility_consume_decode_baseline",
                "goal": ">= 20,000/s and >= 25% of raw",
            }
            producer = new_producer(settings)
            await producer.start()
            tick = {
                **_envelope("EvaluationDue", datetime.now(UTC).isoformat()),
                "market": "TH",
                "effective_month": MONTH,
            }
            sent = time.perf_counter()
            await producer.send_and_wait(
                settings.topic("crm.evaluation-ticks"), json.dumps(tick).encode(), key=b"TH"
            )
            await producer.stop()
            last = await _statuses(settings, sellers, timeout=600)
            ctx.results["eligibility_tick"] = {
                "count": sellers,
                "seconds": round(last - sent, 3),
                "per_second": round(sellers / (last - sent), 1),
                "goal": "<= 10 s for 100,000 sellers",
            }
            ctx.results["eligibility_policy_simulate"] = await _simulate(settings)
            ctx.results["eligibility_state"] = await _state_size(settings)
        finally:
            worker.stop()
            await delete_prefixed_topics(settings)
    return {}


BENCHMARKS: dict[str, Benchmark] = {"eligibility": eligibility}
