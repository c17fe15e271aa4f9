"""`crm worker eligibility`: the faust worker, with /healthz, /readyz and /metrics."""

from __future__ import annotations

import asyncio
from typing import Any

import faust

from services.eligibility.app import SERVICE, TOPICS, EligibilityApp, build_app
from services.shared.checks import kafka_check
from services.shared.kafka import create_topics, wait_for_kafka
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


async def _prepare(settings: Settings) -> None:
    # faust silently ignores a missing input topic and never reads it: create them first.
    await wait_for_kafka(settings)
    await create_topics(settings, TOPICS)


def main(settings: Settings) -> None:
    configure_logging(SERVICE, settings.log_level, settings.log_format)
    asyncio.run(_prepare(settings))
    eligibility = build_app(settings)
    health = _health(settings, eligibility)
    runner: list[Any] = []

    @eligibility.app.task  # type: ignore[untyped-decorator]
    async def serve_ops() -> None:
        server, port = await start_ops_server(health, settings.ops_host, settings.ops_port)
        runner.append(server)
        eligibility.app.log.info(f"ops endpoints on {settings.ops_host}:{port}")

    worker = faust.Worker(eligibility.app, loglevel=settings.log_level, quiet=True)
    worker.execute_from_commandline()
