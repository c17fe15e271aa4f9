"""What the performance tests share: a Bangkok shop's two plans, the events of their
fan-out, engagement and orders, publishing them, and running the projection in-process."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import redis.asyncio as aioredis
from aiokafka import TopicPartition
from aiokafka.structs import OffsetAndMetadata

from schemas.envelope import Event
from schemas.topics import key_of, topic
from services.delivery.performance.projection import (
    TOPICS,
    PerformanceProjection,
)
from services.shared import groups
from services.shared.codec import encode
from services.shared.kafka import new_consumer, new_producer
from services.shared.settings import Settings
from tests.unit.customers.builders import local
from tests.unit.delivery import builders as b

PROJECTION_TOPICS = (*TOPICS, "crm.dead-letters")


def th(day: str, clock: str = "10:00") -> datetime:
    return local("TH", day, clock)


def topic_of(event: Event) -> str:
    kind = event.event_type
    if kind == "DeliveryProgressed":
        return "crm.delivery-progress"
    if kind.startswith("Message"):
        return "crm.chat-engagement"
    return "crm.customer-activity"


def shop_events(seller: str) -> list[Event]:
    """p-flash (repeat_customers) reached c1, c2, c3 on 1 July; p-new (new_customers)
    reached c4 on 2 July (Bangkok time)."""
    return [
        b.progressed(th("2024-07-01", "09:00"), "p-flash", recipients=2, sent=2, seller=seller),
        b.progressed(
            th("2024-07-01", "09:05"),
            "p-flash",
            recipients=4,
            sent=3,
            suppressed={"blocked": 1},
            done=True,
            seller=seller,
        ),
        b.progressed(
            th("2024-07-02", "09:00"),
            "p-new",
            segment="new_customers",
            recipients=1,
            sent=1,
            done=True,
            seller=seller,
        ),
        *(b.delivered(th("2024-07-01"), "p-flash", c, seller) for c in ("c1", "c2", "c3")),
        b.delivered(th("2024-07-02"), "p-new", "c4", seller),
        # c1 reads on 1 July and again on 2 July: one read, on 1 July.
        b.read(th("2024-07-01", "11:00"), "p-flash", "c1", seller),
        b.read(th("2024-07-02", "11:00"), "p-flash", "c1", seller),
        b.read(th("2024-07-01", "12:00"), "p-flash", "c2", seller),
        b.clicked(th("2024-07-01", "11:01"), "p-flash", "c1", seller),
        b.failed(th("2024-07-01", "10:00"), "p-flash", "c9", seller),
        # c1 orders 2 days after p-flash reached it; the same order published twice.
        b.order(th("2024-07-03"), "c1", "o-1", 100.0, seller),
        b.order(th("2024-07-03", "10:30"), "c1", "o-1", 100.0, seller),
        # c3 orders exactly 7 days after p-flash reached it: outside (t − 7d, t].
        b.order(th("2024-07-08"), "c3", "o-2", 50.0, seller),
        # c4 orders at 06:00 on 3 July Bangkok time (23:00 UTC on 2 July): p-new's, on 3 July.
        b.order(th("2024-07-03", "06:00"), "c4", "o-3", 20.5, seller),
        b.claim(th("2024-07-04"), "c2", seller=seller),
        # Not a performance figure.
        b.order(th("2024-06-01"), "c5", "o-old", 9.0, seller),
    ]


async def publish(settings: Settings, events: Sequence[Event], raw: Sequence[Any] = ()) -> None:
    """Events on their topics with their registry keys; `raw` is (topic, key, bytes)."""
    producer = new_producer(settings)
    await producer.start()
    try:
        for event in events:
            key = key_of(event)
            await producer.send_and_wait(
                settings.topic(topic_of(event)), encode(event), key=key.encode() if key else None
            )
        for topic, key, value in raw:
            await producer.send_and_wait(settings.topic(topic), value, key=key)
    finally:
        await producer.stop()


@asynccontextmanager
async def running_projection(
    settings: Settings, redis: aioredis.Redis
) -> AsyncIterator[PerformanceProjection]:
    projection = PerformanceProjection(settings, redis)
    await projection.start()
    try:
        yield projection
    finally:
        await projection.stop()


async def rewind_group(settings: Settings) -> None:
    """Commit offset 0 on every partition of the projection's group: what a crash before
    any commit looks like to the next start."""
    consumer = new_consumer(settings, group_id=groups.delivery_performance(settings))
    await consumer.start()
    try:
        partitions = [
            TopicPartition(settings.topic(name), p)
            for name in TOPICS
            for p in range(topic(name).partitions)
        ]
        consumer.assign(partitions)
        await consumer.commit({tp: OffsetAndMetadata(0, "") for tp in partitions})
    finally:
        await consumer.stop()


def again(event: Event) -> Event:
    """The same fact published anew upstream: a new event id."""
    return event.model_copy(update={"event_id": uuid.uuid4()})
