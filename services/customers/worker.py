"""`crm worker customers`: the customers projection (activity, profiles, engagement,
seller markets, custom segment definitions → Redis), the daily segment recompute at
00:00 market-local, and the trigger engine firing automated plans onto
crm.plan-firings, with /healthz, /readyz and /metrics on CRM_OPS_PORT."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import structlog

from services.customers.daily import DailyRecompute
from services.customers.definitions import SegmentDefinitions
from services.customers.firing import TOPICS as FIRING_TOPICS
from services.customers.firing import TriggerEngine, crash_checkpoint
from services.customers.firing.watermark import WatermarkedConsumer
from services.customers.projection import TOPICS, CustomerProjection
from services.customers.store import customer_store, customers_prefix, customers_redis
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


def _utc_now() -> datetime:
    return datetime.now(UTC)


def projection_group(settings: Settings) -> str:
    return f"{settings.topic_prefix}crm-customers"


async def run(settings: Settings, stopping: asyncio.Event) -> None:
    await ensure_topics(settings, WORKER_TOPICS, service=SERVICE)
    redis = customers_redis(settings)
    store = customer_store(settings, redis)
    definitions = SegmentDefinitions(redis, customers_prefix(settings))
    engine = TriggerEngine(settings, store, _utc_now, crash_checkpoint())
    daily = DailyRecompute(settings, store, definitions, _utc_now)
    projection = CustomerProjection(store, definitions, observer=engine.observe)
    consumer = WatermarkedConsumer(
        settings,
        service=SERVICE,
        topics=TOPICS,
        group_id=projection_group(settings),
        handler=projection.handle,
        flush=projection.flush,
        max_records=5000,
    )
    # Firings are decided only as far as the projection has applied customer events.
    engine.watermark = consumer.watermark

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
    finally:
        await redis.aclose()
