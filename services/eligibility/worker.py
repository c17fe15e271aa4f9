"""`crm worker eligibility`: the batch processor, with /healthz, /readyz and /metrics."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import structlog

from services.eligibility import metrics
from services.eligibility.config import EligibilitySettings
from services.eligibility.domain.schedule import due_ticks
from services.eligibility.processor import Processor
from services.eligibility.topics import PARTITIONS, SERVICE, TOPICS, scheduled_tick
from services.policy import policy_of
from services.shared.checks import kafka_check
from services.shared.clock import utc_now
from services.shared.codec import encode
from services.shared.heap import collect_young_garbage_less_often
from services.shared.kafka import ensure_topics, new_producer
from services.shared.ops import Health, start_ops_server
from services.shared.settings import Settings
from services.shared.signals import run_until_signalled

log = structlog.get_logger(__name__)


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


async def _ticks_at_start(settings: Settings) -> set[tuple[str, str]]:
    """The current month's ticks, sent before the worker consumes (so before it is
    ready): a tick one interval later landed in the middle of whatever ran once the
    worker was ready (README, Scheduler). A repeated tick changes nothing."""
    emitted: set[tuple[str, str]] = set()
    producer = new_producer(settings)
    await producer.start()
    try:
        for market, month in due_ticks(utc_now(), emitted):
            tick = scheduled_tick(market, month)
            topic = settings.topic("crm.evaluation-ticks")
            await producer.send_and_wait(topic, encode(tick), key=market.encode())
            emitted.add((market, month))
            metrics.SCHEDULED_TICKS.labels(market).inc()
            log.info("tick_scheduled", market=market, month=month, at_start=True)
    finally:
        await producer.stop()
    return emitted


async def serve(settings: Settings, stopping: asyncio.Event) -> None:
    options = EligibilitySettings()
    # The state is millions of small objects that live as long as the process: collect
    # young garbage less often (a full collection walks all of it), measured ~15 % of a
    # batch's time with the default thresholds.
    collect_young_garbage_less_often()
    await ensure_topics(settings, TOPICS, service=SERVICE)
    # aiokafka's own line when the consumer subscribes: the log shows it came after the
    # topics were ready (a topic created later is seen only at the next metadata refresh).
    logging.getLogger("aiokafka.consumer.subscription_state").setLevel(logging.INFO)
    emitted = await _ticks_at_start(settings) if options.scheduler else set()
    processor = Processor(settings, policy_of(settings), utc_now, PARTITIONS)
    await processor.start()
    runner, port = await start_ops_server(
        _health(settings, processor), settings.ops_host, settings.ops_port
    )
    log.info("ops_endpoints", port=port)
    tasks = [asyncio.create_task(processor.run(stopping))]
    if options.scheduler:
        tasks.append(
            asyncio.create_task(
                processor.schedule(options.scheduler_interval_seconds, stopping, emitted)
            )
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
