"""A plain-asyncio worker's ops endpoints, for as long as it runs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import structlog

from services.shared.checks import kafka_check, redis_check
from services.shared.ops import Check, Health, start_ops_server
from services.shared.settings import Settings

log = structlog.get_logger(__name__)


@asynccontextmanager
async def serving_ops(
    service: str, settings: Settings, **ready: Callable[[], bool]
) -> AsyncIterator[int]:
    """Serve /healthz, /readyz and /metrics on CRM_OPS_HOST:CRM_OPS_PORT (loopback unless
    configured: they are unauthenticated) from the start, so a long start-up is not a
    dead process. Readiness: Kafka reachable, Redis answering, and each named
    condition of `ready`. Yields the bound port."""
    health = Health(service)
    health.add_check("kafka", kafka_check(settings))
    health.add_check("redis", redis_check(settings))
    for name, condition in ready.items():
        health.add_check(name, _as_check(condition))
    runner, port = await start_ops_server(health, settings.ops_host, settings.ops_port)
    log.info(f"{service}_worker_started", ops_port=port)
    try:
        yield port
    finally:
        await runner.cleanup()


def _as_check(condition: Callable[[], bool]) -> Check:
    async def check() -> bool:
        return condition()

    return check
