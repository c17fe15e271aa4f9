"""`crm worker customers`: the customers projection (activity, profiles, engagement,
seller markets, custom segment definitions → Redis), the daily segment recompute at
00:00 market-local, and the trigger engine firing automated plans onto
crm.plan-firings, with /healthz, /readyz and /metrics on CRM_OPS_PORT."""

from __future__ import annotations

import asyncio
from datetime import datetime

import structlog

from services.customers.daily_recompute import DailyRecompute
from services.customers.firing import TOPICS as FIRING_TOPICS
from services.customers.firing import TriggerEngine, crash_checkpoint
from services.customers.firing.watermark import SharedWatermark, WatermarkedConsumer
from services.customers.healing import customers_guard
from services.customers.projection import TOPICS, CustomerProjection
from services.customers.store import customer_store, customers_prefix, customers_redis
from services.shared import groups
from services.shared.clock import utc_now
from services.shared.kafka import ensure_topics
from services.shared.serving import serving_ops
from services.shared.settings import Settings
from services.shared.signals import run_until_signalled

log = structlog.get_logger(__name__)

SERVICE = "customers"
# What the worker reads or writes; each exists before it consumes.
WORKER_TOPICS = (*TOPICS, *FIRING_TOPICS, "crm.dead-letters")


def main(settings: Settings) -> None:
    run_until_signalled(SERVICE, settings, run)


async def run(settings: Settings, stopping: asyncio.Event) -> None:
    await ensure_topics(settings, WORKER_TOPICS, service=SERVICE)
    redis = customers_redis(settings)
    store = customer_store(settings, redis)
    definitions = store.definitions
    engine = TriggerEngine(settings, store, utc_now, crash_checkpoint())
    daily = DailyRecompute(settings, store, definitions, utc_now)
    projection = CustomerProjection(store, definitions, observer=engine.observe)
    # Redis lost the projection (FLUSHALL, an empty replica): refolded before a batch is
    # written, or within a second when the topics are quiet.
    guard = customers_guard(settings, redis, utc_now)

    async def flush() -> None:
        await guard.ensure()
        await projection.flush()

    consumer = WatermarkedConsumer(
        settings,
        service=SERVICE,
        topics=TOPICS,
        group_id=groups.customers(settings),
        handler=projection.handle,
        flush=flush,
        max_records=5000,
    )
    # One ownership of a seller for both: the engine fires for the sellers whose
    # crm.customer-activity partitions the projection's group gives this process.
    consumer.listen(engine.follow(consumer.consumer, "crm.customer-activity"))
    shared_watermark = SharedWatermark(consumer, redis, f"{customers_prefix(settings)}:watermarks")

    async def watermark() -> datetime | None:
        # Firings are decided only as far as the projection has applied customer
        # events, and never while it is being rebuilt.
        if guard.rebuilding or await guard.generation() is None:
            return None
        return await shared_watermark()

    engine.watermark = watermark

    try:
        async with (
            serving_ops(
                SERVICE,
                settings,
                projection=lambda: consumer.ready,
                firing=lambda: engine.ready,
            ),
            asyncio.TaskGroup() as tasks,
        ):
            tasks.create_task(consumer.run(stopping))
            tasks.create_task(engine.run(stopping))
            tasks.create_task(daily.run(stopping))
            tasks.create_task(guard.watch(stopping))
    finally:
        await redis.aclose()
