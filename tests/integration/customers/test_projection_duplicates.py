"""The customers projection and event_ids (SPEC section 6): the first record of an id
wins; a later one with other content (another order, another time) changes no
relationship and is dead-lettered; an exact redelivery is a silent no-op."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.dead_letter import DeadLetter
from services.customers.definitions import SegmentDefinitions
from services.customers.domain.relationship import fold
from services.customers.projection import TOPICS, CustomerProjection
from services.customers.store import customer_store, customers_prefix, customers_redis
from services.shared.codec import decode, encode
from services.shared.consumer import DeadLetteringConsumer
from services.shared.kafka import new_producer
from services.shared.settings import Settings
from tests.integration.kafka_io import read_records
from tests.integration.outreach.support import eventually
from tests.unit.customers import builders as b

NOW = datetime.now(UTC).replace(microsecond=0)


async def test_a_conflicting_duplicate_changes_no_relationship(
    settings: Settings, topics: Any, redis_url: str, group_id: str
) -> None:
    settings = settings.model_copy(update={"redis_url": redis_url})
    await topics(*TOPICS, "crm.dead-letters")
    history = [
        b.followed(NOW - timedelta(days=40)),
        b.ordered(NOW - timedelta(days=20), order="o1", gmv=120.0),
        b.ordered(NOW - timedelta(days=2), order="o2", gmv=30.0),
    ]
    mine = [e.model_copy(update={"seller_id": "s1", "customer_id": "c1"}) for e in history]
    order = mine[1]
    impostor = order.model_copy(update={"order_id": "o-late", "gmv": 5.0e11})
    last = b.cart_added(NOW - timedelta(hours=1)).model_copy(
        update={"seller_id": "s1", "customer_id": "c1"}
    )
    producer = new_producer(settings)
    await producer.start()
    try:
        for event in [*mine, order, impostor, last]:
            await producer.send_and_wait(
                settings.topic("crm.customer-activity"), encode(event), key=b"s1"
            )
    finally:
        await producer.stop()

    redis = customers_redis(settings)
    store = customer_store(settings, redis)
    projection = CustomerProjection(store, SegmentDefinitions(redis, customers_prefix(settings)))
    consumer = DeadLetteringConsumer(
        settings,
        service="customers",
        topics=TOPICS,
        group_id=group_id,
        handler=projection.handle,
        flush=projection.flush,
    )
    stopping = asyncio.Event()
    task = asyncio.create_task(consumer.run(stopping))
    try:

        async def projected() -> bool:
            stored = await store.load_relationships("s1", ["c1"])
            return "c1" in stored and stored["c1"].last_cart_add_at is not None

        assert await eventually(projected)
        [record] = await read_records(settings, "crm.dead-letters", count=1)
    finally:
        stopping.set()
        await asyncio.wait_for(task, 30)
        keys = [k async for k in redis.scan_iter(match=f"{settings.topic_prefix}*")]
        stored = await store.load_relationships("s1", ["c1"])
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
    assert stored["c1"] == fold([*mine, last])
    assert stored["c1"].order_count == 2
    letter = decode("crm.dead-letters", record.value)
    assert isinstance(letter, DeadLetter)
    assert letter.raw == encode(impostor).decode()
    assert f"event_id: {order.event_id} was already applied with other content" in letter.error
