"""`crm worker quota`: projects crm.seller-status into Redis, keeps the ledger whole
(re-publishing facts a dead process left pending, rebuilding after Redis lost data),
and serves /healthz, /readyz and /metrics on CRM_OPS_PORT."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import suppress
from datetime import timedelta

import structlog
from aiokafka.errors import KafkaError
from redis.exceptions import RedisError

from services.quota.adapter import RedisQuota, open_quota
from services.quota.reconciler import republish_pending
from services.quota.redis_store import quota_redis
from services.quota.status_projection import status_consumer
from services.shared import groups
from services.shared.clock import utc_now
from services.shared.kafka import ensure_topics
from services.shared.serving import serving_ops
from services.shared.settings import Settings
from services.shared.signals import run_until_signalled

log = structlog.get_logger(__name__)

SERVICE = "quota"
# What the worker reads or writes; each exists before it consumes.
TOPICS = ("crm.seller-status", "crm.quota-ledger", "crm.dead-letters")
# How often the worker looks for lost Redis data and for facts left pending.
RECONCILE_EVERY_SECONDS = 30.0
# A fact younger than this may belong to a live reservation still publishing it.
RECONCILE_GRACE_SECONDS = 30.0
# Start-up retries back off from this to the maximum.
START_RETRY_SECONDS = 0.5
START_RETRY_MAX_SECONDS = 10.0


def main(settings: Settings) -> None:
    run_until_signalled(SERVICE, settings, run)


async def run(settings: Settings, stopping: asyncio.Event) -> None:
    await ensure_topics(settings, TOPICS, service=SERVICE)
    if not await _patiently(stopping, lambda: _ping(settings), "redis_unreachable"):
        return
    async with open_quota(settings) as quota:
        consumer = status_consumer(settings, quota.store, group_id=groups.quota(settings))
        caught_up = asyncio.Event()

        async with serving_ops(
            SERVICE,
            settings,
            restored=caught_up.is_set,
            seller_status_consumer=lambda: consumer.ready,
        ):
            # Redis may have lost data while no worker ran, and a process may have
            # died between a Redis write and its ledger write. Until that is known the
            # worker stays not-ready, however long Redis or Kafka take to answer.
            if not await _patiently(
                stopping, lambda: _reconcile(quota, older_than=timedelta(0)), "reconcile_failed"
            ):
                return
            caught_up.set()
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(consumer.run(stopping))
                tasks.create_task(_reconcile_until(stopping, quota))
    log.info("quota_worker_stopped")


async def _ping(settings: Settings) -> None:
    redis = quota_redis(settings)
    try:
        await redis.ping()
    finally:
        await redis.aclose()


async def _reconcile(quota: RedisQuota, older_than: timedelta) -> None:
    await quota.rebuilder.rebuild_if_lost()
    await republish_pending(quota.store, quota.ledger, utc_now(), older_than=older_than)


async def _patiently(
    stopping: asyncio.Event, step: Callable[[], Awaitable[None]], event: str
) -> bool:
    """Run `step` until it succeeds (True) or the worker is told to stop (False).
    Redis blocked by a long command, or Kafka electing a leader, is a wait, not a
    reason to exit at start-up."""
    delay = START_RETRY_SECONDS
    while not stopping.is_set():
        try:
            await step()
            return True
        except (RedisError, KafkaError, OSError) as exc:
            log.warning(event, error=str(exc) or type(exc).__name__, retry_in=delay)
            with suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), delay)
            delay = min(delay * 2, START_RETRY_MAX_SECONDS)
    return False


async def _reconcile_until(stopping: asyncio.Event, quota: RedisQuota) -> None:
    while not stopping.is_set():
        with suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), RECONCILE_EVERY_SECONDS)
        if stopping.is_set():
            return
        try:
            await _reconcile(quota, older_than=timedelta(seconds=RECONCILE_GRACE_SECONDS))
        except (RedisError, KafkaError) as exc:
            log.warning("reconcile_failed", error=str(exc))
