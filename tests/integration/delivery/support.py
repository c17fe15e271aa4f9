"""Delivery on this test's topics and Redis prefix: seeding a seller (status, segment
members, profiles, blocks), dispatching plans, and reading what reached the committed
output."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import aiohttp
import redis.asyncio as aioredis

from demo.sample_status import sample_status
from schemas.delivery import DeliveryProgressed
from schemas.envelope import Event
from schemas.outbound import OutboundMessage
from schemas.plans import CompletePlan, Plan, PlanContent, PlanDispatched
from services.customers.port import (
    CustomerStore,
    Profile,
    customer_store,
    customers_redis,
    mark_whole,
)
from services.delivery.blocks import BlockList
from services.delivery.fanout import FanOut
from services.delivery.keys import DeliveryKeys, delivery_prefix
from services.delivery.worker import WORKER_TOPICS, delivery_parts
from services.quota.adapter import RedisQuota, open_quota
from services.shared.codec import decode, encode
from services.shared.kafka import new_consumer, new_producer
from services.shared.settings import Settings

DELIVERY_TOPICS = WORKER_TOPICS
SELLER = "s1"
TODAY = date.today()


def one_time_plan(
    plan_id: str,
    *,
    seller: str = SELLER,
    segment_id: str = "followers_not_purchased",
    texts: dict[str, str] | None = None,
    default_language: str = "en",
    plan_type: str = "one_time",
    **content: Any,
) -> Plan:
    now = datetime.now(UTC)
    return Plan.model_validate(
        {
            "plan_id": plan_id,
            "seller_id": seller,
            "created_by": f"{seller}-owner",
            "type": plan_type,
            "name": f"plan {plan_id}",
            "segment_id": segment_id,
            "content": PlanContent.model_validate(
                {
                    "default_language": default_language,
                    "texts": texts or {"en": f"Hello from {plan_id}"},
                    **content,
                }
            ),
            "send_now": True,
            "status": "sending",
            "version": 3,
            "created_at": now - timedelta(minutes=5),
            "updated_at": now,
            "submitted_at": now,
            "quota_at": now,
            "dispatched_at": now,
        }
    )


def dispatched(plan: Plan) -> PlanDispatched:
    return PlanDispatched(
        event_id=uuid.uuid4(),
        occurred_at=plan.updated_at,
        seller_id=plan.seller_id,
        plan_id=plan.plan_id,
        correlation_id=None,
        plan=plan,
    )


async def publish(settings: Settings, topic: str, events: Iterable[Event], key: str) -> None:
    producer = new_producer(settings)
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(settings.topic(topic), encode(event), key=key.encode())
    finally:
        await producer.stop()


async def dispatch(settings: Settings, *plans: Plan) -> None:
    for plan in plans:
        await publish(settings, "crm.plan-events", [dispatched(plan)], plan.seller_id)


@dataclass
class Shop:
    """One seller's side of the stores delivery reads."""

    settings: Settings
    store: CustomerStore
    quota: RedisQuota
    blocks: BlockList
    redis: aioredis.Redis

    async def activate(self, seller: str = SELLER, access: str = "active") -> None:
        await self.quota.store.put_status(sample_status(seller, access=access), 1)  # type: ignore[arg-type]

    async def members(
        self, segment_id: str, customers: Sequence[str], seller: str = SELLER
    ) -> None:
        await self.store.write_memberships(seller, TODAY, {segment_id: customers})

    async def languages(self, languages: dict[str, str]) -> None:
        at = datetime.now(UTC)
        await self.store.save_profiles(
            {c: Profile(language=lang, updated_at=at) for c, lang in languages.items()}
        )


@asynccontextmanager
async def shop(settings: Settings) -> AsyncIterator[Shop]:
    redis = customers_redis(settings)
    try:
        async with open_quota(settings) as quota:
            blocks = BlockList(redis, DeliveryKeys(delivery_prefix(settings)))
            # The test writes the customers store itself, standing in for the customers
            # worker: a delivery worker (which waits for a whole projection) may start.
            await mark_whole(settings, redis)
            yield Shop(settings, customer_store(settings, redis), quota, blocks, redis)
    finally:
        await _forget(redis, settings.topic_prefix)
        await redis.aclose()


async def _forget(redis: aioredis.Redis, prefix: str) -> None:
    """Every key of the test (all carry its topic prefix): a 200,000-customer test leaves
    hundreds of thousands of cap keys behind otherwise."""
    doomed: list[bytes] = []
    async for key in redis.scan_iter(match=f"{prefix}*", count=10_000):
        doomed.append(key)
        if len(doomed) >= 10_000:
            await redis.unlink(*doomed)
            doomed = []
    if doomed:
        await redis.unlink(*doomed)


@asynccontextmanager
async def running_delivery(
    settings: Settings, clock: Any = None, chunk_size: int = 1000
) -> AsyncIterator[FanOut]:
    """The fan-out, the blocks and the shop-names projections, in-process."""
    stopping = asyncio.Event()
    async with delivery_parts(
        settings, clock=clock or (lambda: datetime.now(UTC)), chunk_size=chunk_size
    ) as parts:
        tasks = [
            asyncio.create_task(parts.fan_out.run(stopping)),
            asyncio.create_task(parts.blocks.run(stopping)),
            asyncio.create_task(parts.shop_names.run(stopping)),
        ]
        try:
            for _ in range(600):
                if parts.fan_out.ready or any(t.done() for t in tasks):
                    break
                await asyncio.sleep(0.05)
            yield parts.fan_out
        finally:
            stopping.set()
            await asyncio.gather(*tasks)


async def when_handled(port: int, at_least: int) -> float:
    """Polls a delivery worker's fan-out progress gauge until `at_least` recipients are
    handled; returns the figure it saw."""
    url = f"http://127.0.0.1:{port}/metrics"
    async with aiohttp.ClientSession() as http:
        for _ in range(1200):
            async with http.get(url) as response:
                text = await response.text()
            handled = [
                float(line.split()[-1])
                for line in text.splitlines()
                if line.startswith("crm_delivery_fanout_handled ")
            ]
            if handled and handled[0] >= at_least:
                return handled[0]
            await asyncio.sleep(0.02)
    raise AssertionError(f"the fan-out never reached {at_least} recipients")


async def committed(
    settings: Settings, topic: str, *, expected: int, idle_ms: int = 2000, wait_s: float = 60
) -> list[Any]:
    """The events a read_committed consumer sees on `topic`: read until `expected` arrived
    and then nothing more for `idle_ms` (so extra ones would show), or `wait_s` passed."""
    consumer = new_consumer(settings, topic, group_id=None)
    await consumer.start()
    seen: list[Any] = []
    deadline = asyncio.get_running_loop().time() + wait_s
    try:
        while True:
            timeout = idle_ms if len(seen) >= expected else 1000
            batch = await consumer.getmany(timeout_ms=timeout, max_records=10_000)
            if not batch:
                if len(seen) >= expected or asyncio.get_running_loop().time() > deadline:
                    break
                continue
            seen.extend(decode(topic, r.value) for rs in batch.values() for r in rs)
    finally:
        await consumer.stop()
    return seen


def pairs(messages: Sequence[OutboundMessage]) -> Counter[tuple[str, str]]:
    return Counter((m.plan_id, m.customer_id) for m in messages)


async def completion(settings: Settings, plan_id: str) -> CompletePlan:
    commands = await committed(settings, "crm.plan-commands", expected=1)
    found = [c for c in commands if isinstance(c, CompletePlan) and c.plan_id == plan_id]
    assert len(found) == 1, commands
    return found[0]


async def final_progress(settings: Settings, plan_id: str) -> DeliveryProgressed:
    records = await committed(settings, "crm.delivery-progress", expected=1)
    mine = [r for r in records if r.plan_id == plan_id]
    assert mine, records
    return mine[-1]  # type: ignore[no-any-return]
