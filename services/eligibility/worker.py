"""`crm worker eligibility`: the batch processor, with /healthz, /readyz and /metrics."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

import structlog

from services.eligibility.app import PARTITIONS, SERVICE, TOPICS
from services.eligibility.changelog import create_own_topics
from services.eligibility.config import EligibilitySettings
from services.eligibility.policy import load_policy
from services.eligibility.processor import Processor
from services.shared.checks import kafka_check
from services.shared.kafka import create_topics, wait_for_kafka
from services.shared.ops import Health, start_ops_server
from services.shared.settings import Settings
from services.shared.signals import run_until_signalled

log = structlog.get_logger(__name__)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _health(settings: Settings, processor: Processor) -> Health:
    health = Health(SERVICE)
    health.add_check("kafka", kafka_check(settings))

    async def assigned() -> bool:
        return bool(processor.consumer.assignment())

    async def restored() -> bool:
        return not processor.restoring

    health.add_check("partitions_assigned", assigned)
    health.add_check("state_restored", restored)
    return health


async def serve(settings: Settings, stopping: asyncio.Event) -> None:
    options = EligibilitySettings()
    await wait_for_kafka(settings)
    await create_topics(settings, TOPICS)
    await create_own_topics(settings)
    processor = Processor(settings, load_policy(options.policy), _utc_now, PARTITIONS)
    await processor.start()
    runner, port = await start_ops_server(
        _health(settings, processor), "127.0.0.1", settings.ops_port
    )
    log.info("ops_endpoints", port=port)
    tasks = [asyncio.create_task(processor.run(stopping))]
    if options.scheduler:
        tasks.append(
            asyncio.create_task(processor.schedule(options.scheduler_interval_seconds, stopping))
        )
    try:
        done, _ = await asyncio.wait(
            [*tasks, asyncio.create_task(stopping.wait())], return_when=asyncio.FIRST_COMPLETED
        )
        for task in done:
            if task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
    finally:
        stopping.set()
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await processor.stop()
        await runner.cleanup()


def main(settings: Settings) -> None:
    run_until_signalled(SERVICE, settings, serve)
