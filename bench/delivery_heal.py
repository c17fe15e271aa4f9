"""`crm bench` entry `projections_heal` (issue 20): Redis lost everything; how long until the
customers projection (1,000,000 relationships over 1,000 sellers, then every seller's
memberships) and the block lists of 100 sellers are whole again, both guards refolding
side by side as their two workers would. Timed from the loss to both markers set.

Setup (not timed): 1,000,000 ShopFollowed on crm.customer-activity, 100 sellers × 1,000
ShopBlocked on crm.shop-blocks, the sellers' markets on crm.seller-status, produced in
raw batches. Goal: ≤ 60 s. Beside it, `projections_heal_raw_read`: plain aiokafka reading
the same records undecoded, in the same run (the ratio is of events per second), and the
CPU seconds the rebuild took (its processes included): on a shared machine the wall time
says as much about the neighbours as about the rebuild. Every key and topic of the run
goes afterwards.
"""

from __future__ import annotations

import asyncio
import os
import resource
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from bench import baselines
from bench.harness import BenchContext
from demo.sample_status import sample_status
from schemas.customer import ShopFollowed
from schemas.engagement import ShopBlocked
from schemas.markets import MARKET_TIME_ZONES
from schemas.seller import SellerStatusChanged
from schemas.topics import topic as registry_topic
from services.customers.port import PROJECTION_TOPICS as CUSTOMER_TOPICS
from services.customers.port import customer_store, customers_guard, customers_redis
from services.delivery.blocks import BlockList
from services.delivery.healing import blocks_guard
from services.delivery.keys import DeliveryKeys, delivery_prefix
from services.shared.codec import encode
from services.shared.kafka import create_topics, delete_prefixed_topics
from services.shared.settings import Settings

RELATIONSHIPS = int(os.environ.get("CRM_BENCH_HEAL_RELATIONSHIPS", "1000000"))
SELLERS = 1_000
BLOCKING_SELLERS = 100
BLOCKS_PER_SELLER = 1_000
GOAL_SECONDS = 60.0


def _template(event: Any) -> dict[str, Any]:
    loaded: dict[str, Any] = orjson.loads(encode(event))
    return loaded


def _followed(sellers: list[str], per_seller: int, at: datetime) -> list[tuple[bytes, bytes]]:
    base = _template(
        ShopFollowed(event_id=uuid.uuid4(), occurred_at=at, seller_id="s", customer_id="c")
    )
    pairs = []
    for seller in sellers:
        key = seller.encode()
        for n in range(per_seller):
            base.update(event_id=str(uuid.uuid4()), seller_id=seller, customer_id=f"c{n:06d}")
            pairs.append((key, orjson.dumps(base)))
    return pairs


def _blocked(sellers: list[str], at: datetime) -> list[tuple[bytes, bytes]]:
    base = _template(
        ShopBlocked(
            event_id=uuid.uuid4(), occurred_at=at, seller_id="s", customer_id="c", message_id=None
        )
    )
    pairs = []
    for seller in sellers:
        for n in range(BLOCKS_PER_SELLER):
            base.update(event_id=str(uuid.uuid4()), seller_id=seller, customer_id=f"c{n:06d}")
            pairs.append((seller.encode(), orjson.dumps(base)))
    return pairs


def _statuses(sellers: list[str]) -> list[tuple[bytes, bytes]]:
    markets = sorted(MARKET_TIME_ZONES)
    statuses: list[SellerStatusChanged] = [
        sample_status(s, market=markets[n % len(markets)]) for n, s in enumerate(sellers)
    ]
    return [(s.seller_id.encode(), encode(s)) for s in statuses]


async def projections_heal(ctx: BenchContext) -> dict[str, Any]:
    settings = ctx.settings.model_copy(update={"topic_prefix": f"bench-{ctx.run_id}-heal."})
    per_seller = max(1, RELATIONSHIPS // SELLERS)
    expected_blocks = BLOCKING_SELLERS * BLOCKS_PER_SELLER
    sellers = [f"s{n:04d}" for n in range(SELLERS)]
    at = datetime.now(UTC) - timedelta(days=2)
    await create_topics(settings, [*CUSTOMER_TOPICS, "crm.shop-blocks"])
    redis = customers_redis(settings)
    try:
        started = time.perf_counter()
        boot = settings.kafka_bootstrap
        await baselines.produce_batched(
            boot, settings.topic("crm.customer-activity"), _followed(sellers, per_seller, at)
        )
        await baselines.produce_batched(
            boot, settings.topic("crm.shop-blocks"), _blocked(sellers[:BLOCKING_SELLERS], at)
        )
        await baselines.produce_batched(
            boot, settings.topic("crm.seller-status"), _statuses(sellers)
        )
        setup_seconds = round(time.perf_counter() - started, 1)
        raw = await _raw_read(ctx, settings, per_seller * SELLERS + expected_blocks)

        await _flush_prefix(redis, settings)  # the loss: nothing of the run is in Redis
        customers = customers_guard(settings, redis, lambda: datetime.now(UTC))
        blocks = blocks_guard(settings, BlockList(redis, DeliveryKeys(delivery_prefix(settings))))
        load_before = os.getloadavg()[0]
        cpu_before = _cpu_seconds()
        started = time.perf_counter()
        folded = await asyncio.gather(customers.rebuild(settle=0), blocks.rebuild(settle=0))
        seconds = round(time.perf_counter() - started, 2)
        cpu_seconds = round(_cpu_seconds() - cpu_before, 1)

        store = customer_store(settings, redis)
        counted = sum([await store.customer_count(s) for s in sellers])
        as_of = [await store.latest_as_of(s) for s in sellers]
        blocked = sum(
            [await redis.scard(DeliveryKeys(delivery_prefix(settings)).blocked(s)) for s in sellers]
        )
    finally:
        await _flush_prefix(redis, settings)
        await redis.aclose()
        await delete_prefixed_topics(settings)
    if counted != per_seller * SELLERS or blocked != expected_blocks or None in as_of:
        raise RuntimeError(
            f"rebuilt {counted} relationships, {blocked} blocks, "
            f"{as_of.count(None)} sellers without memberships"
        )
    customers_seconds = customers.last_rebuild_seconds or 0.0
    customers_refold = customers.last_refold_seconds or 0.0
    per_second = (counted + blocked) / seconds
    return {
        "count": counted,
        "blocks": blocked,
        "events_folded": sum(folded),
        "seconds": seconds,
        "goal_seconds": GOAL_SECONDS,
        "goal_met": seconds <= GOAL_SECONDS,
        # Where the time went: the customer topics refolded, then the memberships
        # recomputed; the block lists beside them.
        "customers_seconds": round(customers_seconds, 2),
        "customers_refold_seconds": round(customers_refold, 2),
        "memberships_seconds": round(customers_seconds - customers_refold, 2),
        "blocks_seconds": round(blocks.last_rebuild_seconds or 0, 2),
        "processes": customers.split.processes if customers.split else 1,
        # This process and its refold processes; beside the wall time it says how
        # much of the two cores the run got on a shared machine.
        "cpu_seconds": cpu_seconds,
        "per_second": round(per_second, 1),
        "ratio": round(per_second / raw["per_second"], 3),
        "baseline": RAW,
        "setup_seconds": setup_seconds,
        "load_average_before": load_before,
        "load_average": os.getloadavg()[0],
    }


RAW = "projections_heal_raw_read"


async def _raw_read(ctx: BenchContext, settings: Settings, count: int) -> dict[str, Any]:
    """The floor: plain aiokafka reading the same records, undecoded, in this run."""
    topics = {
        settings.topic(t): registry_topic(t).partitions
        for t in ("crm.customer-activity", "crm.shop-blocks")
    }
    ctx.results[RAW] = await baselines.consume_topics(
        settings.kafka_bootstrap, topics, count, decode_events=False
    )
    return ctx.results[RAW]


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # the refold's, once joined
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


async def _flush_prefix(redis: Any, settings: Settings) -> None:
    doomed: list[bytes] = []
    async for key in redis.scan_iter(match=f"{settings.topic_prefix}*", count=10_000):
        doomed.append(key)
        if len(doomed) >= 10_000:
            await redis.unlink(*doomed)
            doomed = []
    if doomed:
        await redis.unlink(*doomed)
