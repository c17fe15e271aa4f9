"""`crm worker eligibility`: the faust worker, with /healthz, /readyz and /metrics."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import faust
import structlog

from services.eligibility import metrics
from services.eligibility.app import SERVICE, TOPICS, EligibilityApp, build_app, scheduled_tick
from services.eligibility.config import EligibilitySettings
from services.eligibility.domain.schedule import due_ticks
from services.shared.checks import kafka_check
from services.shared.codec import encode
from services.shared.kafka import ensure_topics, new_producer
from services.shared.logs import configure_logging
from services.shared.ops import Health, start_ops_server
from services.shared.settings import Settings


def _health(settings: Settings, eligibility: EligibilityApp) -> Health:
    app = eligibility.app
    health = Health(SERVICE)
    health.add_check("kafka", kafka_check(settings))

    async def assigned() -> bool:
        return bool(app.consumer.assignment()) and not app.rebalancing

    async def recovered() -> bool:
        return bool(app.tables.recovery.completed.is_set())  # type: ignore[attr-defined]

    health.add_check("partitions_assigned", assigned)
    health.add_check("tables_recovered", recovered)
    return health


log = structlog.get_logger(__name__)


async def _prepare(settings: Settings, options: EligibilitySettings) -> set[tuple[str, str]]:
    """Before faust starts: every topic it reads, then the ticks due now.

    Topics first: faust's consumer would not see a topic created after it subscribed
    until its next metadata refresh, 5 minutes later. Then the current month's ticks
    (a restart catches up a tick missed while down; a repeated one changes nothing):
    sent here, before the worker is ready, and not a timer interval after it, so they
    cannot land in the middle of whatever is sent once the worker is ready (a demo's
    sellers decided for this month before their tick for the month before, which a
    decided later month then leaves undecided)."""
    await ensure_topics(settings, TOPICS, service=SERVICE)
    emitted: set[tuple[str, str]] = set()
    if not options.scheduler:
        return emitted
    producer = new_producer(settings)
    await producer.start()
    try:
        for market, month in due_ticks(datetime.now(UTC), emitted):
            tick = scheduled_tick(market, month)
            topic = settings.topic("crm.evaluation-ticks")
            await producer.send_and_wait(topic, encode(tick), key=market.encode())
            emitted.add((market, month))
            metrics.SCHEDULED_TICKS.labels(market).inc()
            log.info("tick_scheduled", market=market, month=month, at_start=True)
    finally:
        await producer.stop()
    return emitted


def main(settings: Settings) -> None:
    configure_logging(SERVICE, settings.log_level, settings.log_format)
    options = EligibilitySettings()
    emitted = asyncio.run(_prepare(settings, options))
    eligibility = build_app(settings, options, emitted=emitted)
    health = _health(settings, eligibility)
    runner: list[Any] = []

    @eligibility.app.task  # type: ignore[untyped-decorator]
    async def serve_ops() -> None:
        server, port = await start_ops_server(health, settings.ops_host, settings.ops_port)
        runner.append(server)
        eligibility.app.log.info(f"ops endpoints on {settings.ops_host}:{port}")

    worker = faust.Worker(eligibility.app, loglevel=settings.log_level, quiet=True)
    worker.execute_from_commandline()
