"""Redis loses everything (FLUSHALL) under running workers, and nobody does anything: every
projection notices, refolds itself from its topics, and answers as it did before the loss.

`crm worker customers` and `crm worker delivery` run as processes on this test's topics;
the test publishes what upstream would and reads what the chat system would see.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from demo.sample_status import sample_status
from schemas.engagement import ShopBlocked, ShopUnblocked
from schemas.envelope import Event
from schemas.outbound import OutboundMessage
from schemas.topics import ALL_TOPICS
from services.customers.port import (
    customer_store,
    customers_redis,
    local_today,
    recompute_seller,
)
from services.delivery.blocks import BlockList
from services.delivery.keys import DeliveryKeys, delivery_prefix
from services.delivery.performance.reader import performance_reader
from services.shared import groups
from services.shared.lag import consumer_lag
from services.shared.ops import Health, start_ops_server
from services.shared.projection_guard import ProjectionGuard
from services.shared.settings import Settings
from services.shared.worker_process import WorkerProcess
from tests.integration.customers.test_projection import _as, _histories, _publish, _topic_of
from tests.integration.delivery.support import committed, dispatch, one_time_plan
from tests.integration.delivery.test_firings import _automated, _fired, _started
from tests.integration.outreach.support import eventually
from tests.unit.customers import builders as cb
from tests.unit.delivery import builders as db

pytestmark = pytest.mark.integration

Topics = Callable[..., Awaitable[list[str]]]
SELLER = "s1"  # the delivery support's plans are this seller's
FOLLOWERS = [f"c{n}" for n in range(10)]
BLOCKERS = {"c0", "c1"}
NOW = datetime.now(UTC)


async def _flushall(redis_url: str) -> None:
    """Redis loses everything. The worker under test keeps running and may write again
    at once (the customers worker's shared watermarks, a guard's marker), so the loss is
    checked on a key written just before it, not on an empty database."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        await client.set("test:before-the-loss", "1")
        await client.flushall()
        assert not await client.exists("test:before-the-loss")
    finally:
        await client.aclose()


async def _caught_up(settings: Settings, group: str) -> None:
    async def done() -> bool:
        rows = await consumer_lag(settings, [group])
        return bool(rows) and all(r.lag == 0 for r in rows)

    assert await eventually(done, 60), f"{group} did not catch up"


async def _segments(redis: aioredis.Redis, settings: Settings, seller: str) -> dict[str, set[str]]:
    """Every segment's members as of the seller's latest recompute, and that day."""
    store = customer_store(settings, redis)
    as_of, sizes = await store.sizes(seller)
    members: dict[str, set[str]] = {"as_of": {str(as_of)}}
    for segment in sizes:
        members[segment] = {c async for page in store.members(seller, segment) for c in page}
    return members


async def test_the_customers_projection_heals_itself(
    settings: Settings, topics: Topics, redis_url: str, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"redis_url": redis_url})
    await topics(*(spec.name for spec in ALL_TOPICS))
    histories = _histories()
    events: list[tuple[str, Event]] = [
        (_topic_of(e), _as(e, customer)) for customer, es in histories.items() for e in es
    ]
    profile = cb.profile_updated(NOW - timedelta(days=9), region="JK", language="id")
    events.append(("crm.customer-profiles", profile.model_copy(update={"customer_id": "c-fan"})))
    events.append(("crm.seller-status", sample_status("s1", market="ID")))
    worker = WorkerProcess("customers", settings, tmp_path / "customers.log")
    worker.start()
    redis = customers_redis(settings)
    store = customer_store(settings, redis)
    try:
        await worker.wait_ready()
        await _publish(settings, events)
        await _caught_up(settings, groups.customers(settings))
        await recompute_seller(settings, redis, "s1", local_today("ID", datetime.now(UTC)))
        relationships = await store.load_relationships("s1", list(histories))
        assert len(relationships) == 3
        profiles = await store.profiles(list(histories))
        before = await _segments(redis, settings, "s1")
        assert before["followers_not_purchased"] == {"c-fan"}
        assert before["repeat_customers"] == {"c-buyer"}

        await _flushall(redis_url)

        async def healed() -> bool:
            return await _segments(redis, settings, "s1") == before

        assert await eventually(healed, 60), await _segments(redis, settings, "s1")
        assert await store.load_relationships("s1", list(histories)) == relationships
        assert await store.profiles(list(histories)) == profiles
        assert await store.market("s1") == "ID"
        assert b"projection_rebuilt" in worker.log()
    finally:
        worker.stop()
        await redis.aclose()


def _blocks() -> list[Event]:
    def blocked(customer: str) -> Event:
        return ShopBlocked(
            event_id=uuid.uuid4(),
            occurred_at=NOW,
            seller_id=SELLER,
            customer_id=customer,
            message_id=None,
        )

    unblocked = ShopUnblocked(
        event_id=uuid.uuid4(), occurred_at=NOW, seller_id=SELLER, customer_id="c2"
    )
    # c2 blocked and then thought better of it: not a blocker.
    return [*(blocked(c) for c in sorted(BLOCKERS)), blocked("c2"), unblocked]


def _sent_to(messages: list[Any], plan_id: str) -> list[str]:
    return sorted(
        m.customer_id for m in messages if isinstance(m, OutboundMessage) and m.plan_id == plan_id
    )


async def test_after_a_flushall_plans_reach_the_same_customers_capped_as_before(
    settings: Settings, topics: Topics, redis_url: str, tmp_path: Path
) -> None:
    """Blocks, the frequency cap's history, the already-messaged marks, the performance
    figures and the segments all come back by themselves."""
    settings = settings.model_copy(update={"redis_url": redis_url})
    await topics(*(spec.name for spec in ALL_TOPICS))
    followed = NOW - timedelta(days=2)
    events: list[tuple[str, Event]] = [
        ("crm.customer-activity", _as(cb.followed(followed), c, SELLER)) for c in FOLLOWERS
    ]
    events.append(("crm.seller-status", sample_status(SELLER, market="TH")))
    events += [("crm.shop-blocks", e) for e in _blocks()]
    auto = _automated("auto1")
    customers = WorkerProcess("customers", settings, tmp_path / "customers.log")
    delivery = WorkerProcess("delivery", settings, tmp_path / "delivery.log")
    redis = customers_redis(settings)
    blocks = BlockList(redis, DeliveryKeys(delivery_prefix(settings)))
    reader = performance_reader(settings, redis)
    expected = sorted(set(FOLLOWERS) - BLOCKERS)
    try:
        customers.start()
        delivery.start()
        await customers.wait_ready()
        await delivery.wait_ready()
        await _publish(settings, events)
        await _caught_up(settings, groups.customers(settings))
        await _caught_up(settings, groups.delivery_blocks(settings))
        await recompute_seller(settings, redis, SELLER, local_today("TH", datetime.now(UTC)))

        # Before the loss: a send-now plan, an automated plan's firing, engagement.
        await dispatch(settings, one_time_plan("p1"))
        await _publish(settings, [("crm.plan-events", _started(auto))])
        await _publish(settings, [("crm.plan-firings", _fired(auto, "c-auto"))])
        sent = await committed(settings, "crm.outbound-messages", expected=len(expected) + 1)
        assert _sent_to(sent, "p1") == expected
        assert _sent_to(sent, "auto1") == ["c-auto"]
        at = datetime.now(UTC)
        engagement = [db.delivered(at, "p1", c, SELLER) for c in expected]
        engagement.append(db.read(at, "p1", "c3", SELLER))
        await _publish(settings, [("crm.chat-engagement", e) for e in engagement])

        async def p1_read() -> dict[str, Any] | None:
            figures = await reader.plan(SELLER, "p1")
            return figures if figures and figures["read"] == 1 and figures["sent"] else None

        figures = await eventually(p1_read, 60)
        assert figures is not None
        await _caught_up(settings, groups.delivery_performance(settings))
        assert figures["delivered"] == len(expected)
        assert figures["suppressed"] == {"blocked": len(BLOCKERS)}
        blocked = await blocks.blocked(SELLER, FOLLOWERS)
        assert {c for c, b in zip(FOLLOWERS, blocked, strict=True) if b} == BLOCKERS

        await _flushall(redis_url)

        # After it, nobody acting: the same non-blockers, then a plan the cap stops
        # (2 a week: p1 and p2), the pair already messaged stays so, a new one is sent.
        await dispatch(settings, one_time_plan("p2"))
        sent = await committed(settings, "crm.outbound-messages", expected=2 * len(expected) + 1)
        assert _sent_to(sent, "p2") == expected, "p2 must reach exactly the non-blockers p1 reached"
        await dispatch(settings, one_time_plan("p3"))
        await _publish(
            settings,
            [
                ("crm.plan-firings", _fired(auto, "c-auto")),
                ("crm.plan-firings", _fired(auto, "c-new")),
            ],
        )
        sent = await committed(settings, "crm.outbound-messages", expected=2 * len(expected) + 2)
        assert _sent_to(sent, "p3") == []
        assert _sent_to(sent, "auto1") == ["c-auto", "c-new"]
        progress = await committed(settings, "crm.delivery-progress", expected=4)
        final = [p for p in progress if p.plan_id == "p3" and p.done]
        assert len(final) == 1, progress
        assert final[0].suppressed == {
            "blocked": len(BLOCKERS),
            "frequency_capped": len(expected),
        }
        auto_progress = max(
            (p for p in progress if p.plan_id == "auto1"), key=lambda p: p.recipients
        )
        assert auto_progress.suppressed == {"already_messaged": 1}

        # The figures p1 had, and the block list, without any operator.
        async def p1_again() -> bool:
            return await reader.plan(SELLER, "p1") == figures

        assert await eventually(p1_again, 60), await reader.plan(SELLER, "p1")
        assert await blocks.blocked(SELLER, FOLLOWERS) == blocked
        # Each was rebuilt at its first start (a Redis without markers) and after the loss.
        rebuilt = [line for line in delivery.log().splitlines() if b"projection_rebuilt" in line]
        for projection in (b"blocks", b"frequency-cap", b"already-messaged", b"performance"):
            assert sum(projection in line for line in rebuilt) >= 2, (projection, rebuilt)
    finally:
        customers.stop()
        delivery.stop()
        await redis.aclose()


async def test_readyz_names_a_rebuild_and_its_progress_and_one_process_rebuilds(
    settings: Settings, topics: Topics, redis_url: str
) -> None:
    settings = settings.model_copy(update={"redis_url": redis_url})
    await topics("crm.shop-blocks")
    await _publish(settings, [("crm.shop-blocks", e) for e in _blocks()])
    redis = aioredis.Redis.from_url(redis_url)
    release = asyncio.Event()
    folded: list[int] = []

    async def slow_fold(chunk: list[tuple[int, Event]]) -> None:
        await release.wait()
        folded.append(len(chunk))

    name = f"slow-{settings.topic_prefix}"
    guard = ProjectionGuard(settings, redis, name, topics=("crm.shop-blocks",), fold=slow_fold)
    # Another process's guard of the same projection: it waits, it does not refold too.
    other = ProjectionGuard(settings, redis, name, topics=("crm.shop-blocks",), fold=slow_fold)
    runner, port = await start_ops_server(Health("test"), "127.0.0.1", 0)
    try:
        rebuilding = asyncio.create_task(guard.ensure())
        waiting = asyncio.create_task(other.ensure())
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:

            async def named() -> dict[str, Any] | None:
                body = (await client.get("/readyz")).json()
                found: dict[str, Any] | None = body.get("rebuilding", {}).get(name)
                return found if found and found["total"] else None  # once offsets are known

            progress = await eventually(named, 20)
            assert progress is not None
            assert progress["topic"] == "crm.shop-blocks"
            assert progress["total"] == len(_blocks())
            not_ready = await client.get("/readyz")
            assert not_ready.status_code == 503
            metrics = (await client.get("/metrics")).text
            assert f'crm_projection_rebuilding{{projection="{name}"}} 1.0' in metrics
            release.set()
            generation = await rebuilding
            assert await waiting == generation
            assert folded == [len(_blocks())]
            ready = await client.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert "rebuilding" not in ready.json()
            metrics = (await client.get("/metrics")).text
            assert (
                f'crm_projection_rebuilds_total{{projection="{name}",trigger="data_lost"}} 1.0'
                in metrics
            )
        # Whole: nothing is refolded again until the marker goes.
        assert await guard.ensure() == generation
        assert folded == [len(_blocks())]
    finally:
        await runner.cleanup()
        await redis.delete(guard.marker_key)
        await redis.aclose()
