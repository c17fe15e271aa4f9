"""What the API's routes work with: settings, the clock, Redis, a Kafka producer, the
quota port, outreach's projections, the customers store and delivery's figures — opened
once per process, closed at exit.

Routes get it with `Depends(runtime_of)`; tests open one on their own topics and
Redis prefix and inject a fixed clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import redis.asyncio as aioredis
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaTimeoutError
from aiokafka.structs import RecordMetadata
from fastapi import Request

from schemas.envelope import Event
from services.customers.port import CustomerStore, open_customer_store
from services.delivery.performance.reader import PerformanceReader, performance_reader
from services.outreach.api.limits import ApiLimits
from services.outreach.api.plans_runtime import PlansRuntime
from services.outreach.api.rate_limit import RateLimiter
from services.outreach.appeals import AppealStore, appeal_store
from services.outreach.campaigns import CampaignCalendar, campaign_calendar
from services.outreach.config import OutreachSettings
from services.outreach.gateway import PlanGateway
from services.outreach.permissions import PermissionStore, permission_store
from services.outreach.read_model import plan_read_model
from services.outreach.segment_ids import live_segment_ids
from services.quota.port import QuotaPort, open_quota
from services.shared.clock import Clock, utc_now
from services.shared.codec import encode
from services.shared.kafka import new_producer
from services.shared.settings import Settings

# How long a publish waits for the broker before the request is answered 503.
PUBLISH_TIMEOUT_SECONDS = 10.0


@dataclass(kw_only=True)
class Runtime:
    settings: Settings
    outreach: OutreachSettings
    clock: Clock
    redis: aioredis.Redis
    # Started; acks=all and idempotent; no linger, since every answer waits for its ack.
    producer: AIOKafkaProducer
    quota: QuotaPort
    permissions: PermissionStore
    appeals: AppealStore
    campaigns: CampaignCalendar
    plans: PlansRuntime
    # The customers projection, custom segment definitions included.
    customers: CustomerStore
    # Delivery's figures of plans, segments and days.
    performance: PerformanceReader
    limits: ApiLimits
    rate_limiter: RateLimiter

    async def publish(self, topic: str, event: Event, key: str) -> RecordMetadata:
        """Send one event to a registry topic and wait until Kafka acknowledged it."""
        try:
            metadata: RecordMetadata = await asyncio.wait_for(
                self.producer.send_and_wait(
                    self.settings.topic(topic), encode(event), key=key.encode()
                ),
                PUBLISH_TIMEOUT_SECONDS,
            )
        except TimeoutError:
            # The broker away: a 503 with Retry-After now, not a request hanging 40 s.
            raise KafkaTimeoutError(f"{topic}: not acknowledged in time") from None
        return metadata


@asynccontextmanager
async def open_runtime(
    settings: Settings,
    *,
    clock: Clock = utc_now,
    outreach: OutreachSettings | None = None,
    limits: ApiLimits | None = None,
) -> AsyncIterator[Runtime]:
    async with AsyncExitStack() as stack:
        # A burst beyond the pool waits for a free connection instead of failing at once
        # (redis-py's plain pool raises MaxConnectionsError past 100 commands in flight).
        pool = aioredis.BlockingConnectionPool.from_url(
            settings.redis_url, decode_responses=True, max_connections=200, timeout=10
        )
        redis = aioredis.Redis.from_pool(pool)
        stack.push_async_callback(redis.aclose)
        producer = new_producer(settings, linger_ms=0)
        await producer.start()
        stack.push_async_callback(producer.stop)
        # The quota port keeps its own wall clock: it sets Redis expiries, which Redis
        # measures in real time whatever time a test makes the API see.
        quota = await stack.enter_async_context(open_quota(settings))
        outreach = outreach or OutreachSettings()
        limits = limits or ApiLimits()
        gateway = PlanGateway(settings, timeout=outreach.reply_timeout_seconds)
        await gateway.start()
        stack.push_async_callback(gateway.stop)
        customers = await stack.enter_async_context(open_customer_store(settings))

        plans = PlansRuntime(
            gateway,
            plan_read_model(redis, settings),
            clock,
            retry_after_seconds=outreach.retry_after_seconds,
            known_segments=live_segment_ids(customers),
        )
        yield Runtime(
            settings=settings,
            outreach=outreach,
            clock=clock,
            redis=redis,
            producer=producer,
            quota=quota,
            permissions=permission_store(settings, redis),
            appeals=appeal_store(settings, redis),
            campaigns=campaign_calendar(settings, redis),
            plans=plans,
            customers=customers,
            performance=performance_reader(settings, redis),
            limits=limits,
            rate_limiter=RateLimiter(
                redis,
                settings.topic_prefix,
                per_second=limits.rate_per_second,
                burst=limits.rate_burst,
            ),
        )


async def runtime_of(request: Request) -> Runtime:
    # Async, so FastAPI calls it on the loop rather than in a worker thread.
    runtime: Runtime = request.app.state.runtime
    return runtime
