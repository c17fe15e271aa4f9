"""The projection's consumer tells how far it has applied events, on the real Kafka: not
past a batch still being applied, and up to the present once caught up; with several
processes, not past a batch any of them is applying."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis

from schemas.customer import CartAdded
from schemas.envelope import Event
from services.customers.firing.watermark import SharedWatermark, WatermarkedConsumer
from services.shared.codec import encode
from services.shared.kafka import new_producer
from services.shared.settings import Settings
from tests.integration.outreach.support import eventually


def _cart(customer: str) -> CartAdded:
    return CartAdded(
        event_id=uuid.uuid4(),
        occurred_at=datetime.now(UTC),
        seller_id="s1",
        customer_id=customer,
        product_id="p1",
    )


async def test_the_watermark_stays_behind_a_batch_being_applied(
    settings: Settings, topics: Callable[..., Any], group_id: str
) -> None:
    await topics("crm.customer-activity", "crm.dead-letters")
    handled: list[str] = []
    gate = asyncio.Event()

    async def handle(event: Event, _: object) -> None:
        customer = getattr(event, "customer_id")  # noqa: B009
        if customer == "c-slow":
            await gate.wait()
        handled.append(customer)

    consumer = WatermarkedConsumer(
        settings,
        service="customers-test",
        topics=["crm.customer-activity"],
        group_id=group_id,
        handler=handle,
    )
    assert await consumer.watermark() is None  # not started
    stopping = asyncio.Event()
    task = asyncio.create_task(consumer.run(stopping))
    producer = new_producer(settings)
    await producer.start()
    try:

        async def past(instant: datetime) -> bool:
            mark = await consumer.watermark()
            return mark is not None and mark > instant

        first_sent = await _send(producer, settings, _cart("c-fast"))
        assert await eventually(lambda: past(first_sent), timeout=30), "never caught up"
        assert handled == ["c-fast"]

        slow_sent = await _send(producer, settings, _cart("c-slow"))
        assert await eventually(lambda: _is_applying(consumer), timeout=30)
        for _ in range(5):  # the batch is being applied: the watermark stays before it
            mark = await consumer.watermark()
            assert mark is not None
            assert mark < slow_sent
            await asyncio.sleep(0.3)

        gate.set()
        assert await eventually(lambda: past(slow_sent), timeout=30)
        assert handled == ["c-fast", "c-slow"]
    finally:
        gate.set()
        stopping.set()
        await producer.stop()
        await asyncio.wait_for(task, timeout=15)


async def _send(producer: Any, settings: Settings, event: CartAdded) -> datetime:
    """Sends and returns the moment the broker had acknowledged it."""
    await producer.send_and_wait(
        settings.topic("crm.customer-activity"), encode(event), key=event.seller_id.encode()
    )
    return datetime.now(UTC)


async def _is_applying(consumer: WatermarkedConsumer) -> bool:
    return consumer.applying


async def test_the_shared_watermark_waits_for_a_batch_another_process_is_applying(
    settings: Settings, topics: Callable[..., Any], group_id: str, redis_url: str
) -> None:
    """Two processes share the partitions: while one applies a batch, the other's own
    partitions are caught up, but the watermark its firing engine reads stays behind the
    batch (its pairs' messages and profiles may be in that batch)."""
    await topics("crm.customer-activity", "crm.dead-letters")
    gate = asyncio.Event()
    applying: list[WatermarkedConsumer] = []

    def member() -> WatermarkedConsumer:
        async def handle(event: Event, _: object) -> None:
            if getattr(event, "customer_id") == "c-slow":  # noqa: B009
                applying.append(consumer)
                await gate.wait()

        consumer = WatermarkedConsumer(
            settings,
            service="customers-test",
            topics=["crm.customer-activity"],
            group_id=group_id,
            handler=handle,
        )
        return consumer

    consumers = [member(), member()]
    redis = aioredis.Redis.from_url(redis_url)
    key = f"{settings.topic_prefix}customers:watermarks"
    shared = {id(c): SharedWatermark(c, redis, key) for c in consumers}
    stopping = asyncio.Event()
    tasks = [asyncio.create_task(c.run(stopping)) for c in consumers]
    producer = new_producer(settings)
    await producer.start()
    try:

        async def both_assigned() -> bool:
            return all(c.ready and c.consumer.assignment() for c in consumers)

        assert await eventually(both_assigned, timeout=60), "the group never settled"
        first_sent = await _send(producer, settings, _cart("c-fast"))

        async def read(consumer: WatermarkedConsumer) -> datetime | None:
            """As each process's engine does every pass: publish its marks, read all."""
            marks = {id(c): await shared[id(c)]() for c in consumers}
            return marks[id(consumer)]

        async def past(consumer: WatermarkedConsumer, instant: datetime) -> bool:
            mark = await read(consumer)
            return mark is not None and mark > instant

        for consumer in consumers:
            assert await eventually(lambda c=consumer: past(c, first_sent), timeout=30)

        slow_sent = await _send(producer, settings, _cart("c-slow"))
        assert await eventually(lambda: _applied_by_one(applying), timeout=30)
        [other] = [c for c in consumers if c is not applying[0]]

        async def locally_past() -> bool:
            mark = await other.watermark()
            return mark is not None and mark > slow_sent

        assert await eventually(locally_past, timeout=30)  # its own partitions are
        for _ in range(5):
            mark = await read(other)
            assert mark is not None
            assert mark < slow_sent  # but the whole projection is not
            await asyncio.sleep(0.3)

        gate.set()
        assert await eventually(lambda: past(other, slow_sent), timeout=30)
    finally:
        gate.set()
        stopping.set()
        await producer.stop()
        await asyncio.gather(*(asyncio.wait_for(t, timeout=15) for t in tasks))
        await redis.delete(key)
        await redis.aclose()


async def _applied_by_one(applying: list[WatermarkedConsumer]) -> bool:
    return len(applying) == 1
