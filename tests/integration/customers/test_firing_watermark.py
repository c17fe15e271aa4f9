"""The projection's consumer tells how far it has applied events, on the real Kafka: not
past a batch still being applied, and up to the present once caught up."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from schemas.customer import CartAdded
from schemas.envelope import Event
from services.customers.firing.watermark import WatermarkedConsumer
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
