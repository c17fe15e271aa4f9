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
from services.customers.firing import TriggerEngine, crash_checkpoint
from services.customers.firing.watermark import WatermarkedConsumer
from services.customers.projection import TOPICS, CustomerProjection
from services.customers.store import customer_store, customers_prefix, customers_redis
from services.shared.checks import kafka_check, redis_check
from services.shared.kafka import wait_for_kafka
from services.shared.ops import Health, start_ops_server
from services.shared.settings import Settings
from services.shared.signals import run_until_signalled

log = structlog.get_logger(__name__)

SERVICE = "customers"


def main(settings: Settings) -> None:
    run_until_signalled(SERVICE, settings, run)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def projection_group(settings: Settings) -> str:
    return f"{settings.topic_prefix}crm-customers"


async def run(settings: Settings, stopping: asyncio.Event) -> None:
    await wait_for_kafka(settings)
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

    async def projecting() -> bool:
        return consumer.ready

    async def firing() -> bool:
        return engine.ready

    health = Health(SERVICE)
    health.add_check("kafka", kafka_check(settings))
    health.add_check("redis", redis_check(settings))
    health.add_check("projection", projecting)
    health.add_check("firing", firing)
    runner, port = await start_ops_server(health, "0.0.0.0", settings.ops_port)
    log.info("customers_worker_started", ops_port=port)
    try:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(consumer.run(stopping))
            tasks.create_task(engine.run(stopping))
            tasks.create_task(daily.run(stopping))
    finally:
        await runner.cleanup()
        await redis.aclose()
