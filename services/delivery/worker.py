"""`crm worker delivery`: the transactional fan-out of dispatched plans and automated
firings onto crm.outbound-messages, the shop-blocks projection it suppresses by, the
shop names it fills in (crm.seller-accounts), and the
performance projection the API serves, with /healthz, /readyz and /metrics on
CRM_OPS_PORT."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import redis.asyncio as aioredis

from services.customers.port import customer_store, customers_guard
from services.delivery.blocks import BlockList, block_consumer
from services.delivery.fanout import FanOut
from services.delivery.healing import (
    blocks_guard,
    delivery_gate,
    shop_names_guard,
)
from services.delivery.keys import DeliveryKeys, delivery_prefix
from services.delivery.performance.projection import PerformanceProjection
from services.delivery.shops import ShopNames, shop_name_consumer
from services.quota.port import cap_history_guard, open_quota
from services.shared import groups
from services.shared.clock import Clock, utc_now
from services.shared.consumer import DeadLetteringConsumer
from services.shared.crash import Checkpoint, crash_checkpoint
from services.shared.heap import collect_young_garbage_less_often, freeze_what_lives_forever
from services.shared.kafka import ensure_topics
from services.shared.projection_guard import ProjectionGuard, guarded
from services.shared.redis_packing import bytes_redis
from services.shared.serving import serving_ops
from services.shared.settings import Settings
from services.shared.signals import run_until_signalled

SERVICE = "delivery"
# Test hook: SIGKILL at a named point of the fan-out (chunk_sent, chunk_committed,
# firings_sent; `name@N` for the N-th time), to show a crash there loses and
# duplicates nothing.
CRASH_POINT_ENV = "CRM_DELIVERY_CRASH_POINT"
# What the worker reads and writes; each exists before it consumes.
WORKER_TOPICS = (
    "crm.plan-events",
    "crm.plan-firings",
    "crm.outbound-messages",
    "crm.delivery-progress",
    "crm.delivery-shards",
    "crm.plan-commands",
    "crm.shop-blocks",
    "crm.chat-engagement",
    "crm.customer-activity",
    "crm.seller-status",
    "crm.seller-accounts",
    "crm.quota-ledger",
    "crm.dead-letters",
)


def main(settings: Settings) -> None:
    run_until_signalled(SERVICE, settings, run)


@dataclass
class DeliveryParts:
    fan_out: FanOut
    blocks: DeadLetteringConsumer
    shop_names: DeadLetteringConsumer
    redis: aioredis.Redis
    # With healing: the block list's and shop names' guards (watched beside them).
    blocks_guard: ProjectionGuard | None = None
    shop_names_guard: ProjectionGuard | None = None


@asynccontextmanager
async def delivery_parts(
    settings: Settings,
    *,
    clock: Clock = utc_now,
    checkpoint: Checkpoint = lambda _: None,
    chunk_size: int | None = None,
    healing: bool = False,
) -> AsyncIterator[DeliveryParts]:
    """The fan-out, the blocks projection it suppresses by and the shop names it fills
    in, over one Redis client and the quota adapter (the worker runs them; tests run them
    in-process). `healing`: the projections notice a Redis that lost them and refold
    them, and the fan-out waits for them (and for the customers worker's) to be whole
    (services/delivery/healing.py)."""
    redis = bytes_redis(settings)
    keys = DeliveryKeys(delivery_prefix(settings))
    blocks = BlockList(redis, keys)
    shops = ShopNames(redis, keys)
    guard = blocks_guard(settings, blocks) if healing else None
    names_guard = shop_names_guard(settings, shops) if healing else None
    try:
        async with open_quota(settings) as quota:
            gate = (
                delivery_gate(
                    settings,
                    redis=redis,
                    blocks=guard,
                    shop_names=names_guard,
                    cap_history=cap_history_guard(settings, quota, clock),
                    keys=keys,
                    clock=clock,
                )
                if guard is not None and names_guard is not None
                else None
            )
            fan_out = FanOut(
                settings,
                store=customer_store(settings, redis),
                quota=quota,
                blocks=blocks,
                shops=shops,
                redis=redis,
                clock=clock,
                checkpoint=checkpoint,
                chunk_size=chunk_size or settings.delivery_chunk_size,
                gate=gate,
            )
            yield DeliveryParts(
                fan_out,
                block_consumer(settings, blocks, groups.delivery_blocks(settings), guard),
                _guarded(
                    shop_name_consumer(settings, shops, groups.delivery_shop_names(settings)),
                    names_guard,
                ),
                redis,
                guard,
                names_guard,
            )
    finally:
        await redis.aclose()


def _guarded(
    consumer: DeadLetteringConsumer, guard: ProjectionGuard | None
) -> DeadLetteringConsumer:
    return consumer if guard is None else guarded(consumer, guard)


async def run(settings: Settings, stopping: asyncio.Event) -> None:
    # A fan-out allocates millions of short-lived tuples and strings beside what was
    # imported at start: collect young garbage less often, and keep what lives as long
    # as the process (modules, schemas) out of full collections' walk. With the defaults
    # the collector took ~15 % of the worker's CPU in a 300,000-recipient fan-out (py-spy).
    collect_young_garbage_less_often()
    await ensure_topics(settings, WORKER_TOPICS, service=SERVICE)
    async with delivery_parts(
        settings, checkpoint=crash_checkpoint(CRASH_POINT_ENV), healing=True
    ) as parts:
        performance = PerformanceProjection(
            settings,
            parts.redis,
            customers=customers_guard(settings, parts.redis, utc_now),
        )
        freeze_what_lives_forever()
        async with (
            serving_ops(
                SERVICE,
                settings,
                fan_out=lambda: parts.fan_out.ready,
                blocks=lambda: parts.blocks.ready,
                shop_names=lambda: parts.shop_names.ready,
                performance=performance.ready,
            ),
            asyncio.TaskGroup() as tasks,
        ):
            tasks.create_task(parts.blocks.run(stopping))
            tasks.create_task(parts.shop_names.run(stopping))
            tasks.create_task(parts.fan_out.run(stopping))
            tasks.create_task(performance.run(stopping))
            for guard in (parts.blocks_guard, parts.shop_names_guard, performance.guard):
                if guard is not None:
                    tasks.create_task(guard.watch(stopping))
