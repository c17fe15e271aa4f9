"""`crm worker customers` as a process: what upstream teams publish on the customer
topics ends up in the store the segments and triggers read."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from demo.sample_status import sample_status
from schemas.envelope import Event
from schemas.segments import SegmentCondition, SegmentDefined
from schemas.topics import key_of
from services.customers.definitions import SegmentDefinitions
from services.customers.domain.relationship import fold
from services.customers.firing import TOPICS as FIRING_TOPICS
from services.customers.projection import TOPICS, CustomerProjection
from services.customers.replay import rebuild_customers
from services.customers.store import customer_store, customers_prefix, customers_redis
from services.shared.codec import encode
from services.shared.kafka import new_consumer, new_producer
from services.shared.settings import Settings
from services.shared.worker_process import WorkerProcess
from tests.integration.outreach.support import eventually
from tests.unit.customers import builders as b

NOW = datetime.now(UTC).replace(microsecond=0)


def _as(event: Event, customer: str, seller: str = "s1") -> Event:
    update: dict[str, Any] = {"event_id": uuid.uuid4()}
    if hasattr(event, "customer_id"):
        update["customer_id"] = customer
    if hasattr(event, "seller_id"):
        update["seller_id"] = seller
    return event.model_copy(update=update)


def _histories() -> dict[str, list[Any]]:
    return {
        "c-buyer": [
            b.followed(NOW - timedelta(days=40)),
            b.ordered(NOW - timedelta(days=20), order="o1", gmv=120.0),
            b.ordered(NOW - timedelta(days=2), order="o2", gmv=30.0),
            b.sent(NOW - timedelta(days=1), plan="plan-a"),
            b.read(NOW - timedelta(hours=20), plan="plan-a"),
        ],
        "c-cart": [b.viewed(NOW - timedelta(days=3)), b.cart_added(NOW - timedelta(days=1))],
        "c-fan": [b.followed(NOW - timedelta(days=5)), b.chatted(NOW - timedelta(days=4))],
    }


async def _publish(settings: Settings, events: list[tuple[str, Event]]) -> None:
    producer = new_producer(settings)
    await producer.start()
    try:
        for topic, event in events:
            key = key_of(event)
            await producer.send_and_wait(
                settings.topic(topic), encode(event), key=key.encode() if key else None
            )
    finally:
        await producer.stop()


def _topic_of(event: Event) -> str:
    kind = type(event).__name__
    if kind == "OutboundMessage":
        return "crm.outbound-messages"
    if kind.startswith("Message"):
        return "crm.chat-engagement"
    return "crm.customer-activity"


async def test_the_worker_projects_relationships_profiles_markets_and_definitions(
    settings: Settings, topics: Callable[..., Any], redis_url: str, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"redis_url": redis_url})
    await topics(*TOPICS, *FIRING_TOPICS, "crm.dead-letters")
    histories = _histories()
    events: list[tuple[str, Event]] = [
        (_topic_of(e), _as(e, customer)) for customer, es in histories.items() for e in es
    ]
    profile = b.profile_updated(NOW - timedelta(days=9), region="JK", language="id")
    events.append(("crm.customer-profiles", profile.model_copy(update={"customer_id": "c-fan"})))
    events.append(("crm.seller-status", sample_status("s1", market="ID")))
    definition = SegmentDefined(
        event_id=uuid.uuid4(),
        occurred_at=NOW,
        seller_id="s1",
        segment_id="seg-1",
        account_id="s1",
        name="fans in Jakarta",
        conditions=[SegmentCondition(field="region", op="eq", value="JK")],
    )
    events.append(("crm.segments", definition))

    worker = WorkerProcess("customers", settings, tmp_path / "customers.log")
    worker.start()
    redis = customers_redis(settings)
    store = customer_store(settings, redis)
    definitions = SegmentDefinitions(redis, customers_prefix(settings))
    try:
        await worker.wait_ready()
        await _publish(settings, events)
        # Bad input on the way: not JSON at all. It is dead-lettered; nothing else is lost.
        producer = new_producer(settings)
        await producer.start()
        await producer.send_and_wait(settings.topic("crm.customer-activity"), b"{not json")
        await producer.stop()

        async def projected() -> bool:
            stored = await store.load_relationships("s1", list(histories))
            return len(stored) == 3 and await definitions.get("s1", "seg-1") is not None

        await eventually(projected)
        stored = await store.load_relationships("s1", list(histories))
        for customer, history in histories.items():
            expected = fold(_as(e, customer) for e in history)
            assert stored[customer] == expected, customer
        assert stored["c-buyer"].order_count == 2
        assert set(stored["c-buyer"].read_plans) == {"plan-a"}
        assert (await store.profiles(["c-fan"]))["c-fan"].region == "JK"
        assert await store.market("s1") == "ID"
        assert await store.sellers() == {"s1"}
        saved = await definitions.get("s1", "seg-1")
        assert saved is not None
        assert saved.name == "fans in Jakarta"

        letters = new_consumer(settings, "crm.dead-letters", group_id=f"{settings.topic_prefix}dl")
        await letters.start()
        try:
            batch = await letters.getmany(timeout_ms=10_000)
            raw = [r.value for rs in batch.values() for r in rs]
        finally:
            await letters.stop()
        assert len(raw) == 1
        assert b"not json" in raw[0]
    finally:
        worker.stop()
        await redis.aclose()


async def test_a_redelivered_batch_changes_nothing(settings: Settings, redis_url: str) -> None:
    settings = settings.model_copy(update={"redis_url": redis_url})
    redis = customers_redis(settings)
    store = customer_store(settings, redis)
    projection = CustomerProjection(store, SegmentDefinitions(redis, customers_prefix(settings)))
    events = [_as(e, customer) for customer, es in _histories().items() for e in es]
    try:
        await projection.apply(enumerate(events))
        first = await store.load_relationships("s1", list(_histories()))
        await projection.apply(enumerate(reversed(events)))
        again = await store.load_relationships("s1", list(_histories()))
        assert again == first
        assert first["c-buyer"].order_count == 2
    finally:
        await redis.aclose()


async def test_replay_rebuilds_a_lost_projection_even_beside_a_live_worker(
    settings: Settings, topics: Callable[..., Any], redis_url: str, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"redis_url": redis_url})
    await topics(*TOPICS, *FIRING_TOPICS, "crm.dead-letters")
    histories = _histories()
    events = [(_topic_of(e), _as(e, customer)) for customer, es in histories.items() for e in es]
    events.append(("crm.seller-status", sample_status("s1", market="TH")))
    await _publish(settings, events)
    redis = customers_redis(settings)
    store = customer_store(settings, redis)
    try:
        folded = await rebuild_customers(settings)
        assert folded == len(events)
        stored = await store.load_relationships("s1", list(histories))
        for customer, history in histories.items():
            assert stored[customer] == fold(_as(e, customer) for e in history), customer
        assert await store.market("s1") == "TH"
        assert await store.latest_as_of("s1") is not None  # memberships recomputed too

        # An operator forcing a rebuild while the worker runs: both go on, nothing lost.
        worker = WorkerProcess("customers", settings, tmp_path / "customers.log")
        worker.start()
        try:
            await worker.wait_ready()
            assert await rebuild_customers(settings) == len(events)
            late = b.ordered(NOW, order="o3", gmv=5.0)
            await _publish(settings, [(_topic_of(late), _as(late, "c-fan"))])

            async def ordered() -> bool:
                rel = (await store.load_relationships("s1", ["c-fan"])).get("c-fan")
                return rel is not None and rel.order_count == 1

            await eventually(ordered)
            stored = await store.load_relationships("s1", list(histories))
            for customer, history in histories.items():
                extra = [late] if customer == "c-fan" else []
                expected = fold(_as(e, customer) for e in [*history, *extra])
                assert stored[customer] == expected, customer
        finally:
            worker.stop()
    finally:
        await redis.aclose()
