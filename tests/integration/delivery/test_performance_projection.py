"""The performance projection against the real Kafka and Redis: the figures it keeps,
that a redelivered log and republished duplicates change nothing, and that bad records
are dead-lettered while the rest is counted."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import date
from typing import Any

import pytest
import redis.asyncio as aioredis

from schemas.topics import topic as registry_topic
from services.customers.port import customer_store
from services.delivery.performance.metrics import TALLIES
from services.delivery.performance.reader import PerformanceReader, performance_reader
from services.shared.codec import decode, encode
from services.shared.metrics import EVENTS_REPEATED
from services.shared.settings import Settings
from tests.integration.delivery.performance_support import (
    PROJECTION_TOPICS,
    again,
    publish,
    rewind_group,
    running_projection,
    shop_events,
    th,
    topic_of,
)
from tests.integration.kafka_io import read_records
from tests.integration.outreach.support import eventually
from tests.unit.delivery import builders as b

FLASH = {
    "recipients": 4,
    "suppressed": {"blocked": 1},
    "sent": 3,
    "delivered": 3,
    "read": 2,
    "clicked": 1,
    "failed": 1,
    "orders": 1,
    "gmv": 100.0,
    "coupons_claimed": 1,
}


@pytest.fixture
async def perf_settings(settings: Settings, topics: Any, redis_url: str) -> Settings:
    await topics(*PROJECTION_TOPICS)
    return settings.model_copy(update={"redis_url": redis_url})


@pytest.fixture
async def redis(perf_settings: Settings) -> AsyncIterator[aioredis.Redis]:
    # Bytes in and out, as the customers client: the store decodes either way.
    client = aioredis.Redis.from_url(perf_settings.redis_url, decode_responses=False)
    yield client
    doomed = [k async for k in client.scan_iter(match=f"{perf_settings.topic_prefix}*")]
    if doomed:
        await client.delete(*doomed)
    await client.aclose()


async def snapshot(redis: aioredis.Redis, prefix: str) -> dict[bytes, Any]:
    """Every key of the test and what it holds."""
    held: dict[bytes, Any] = {}
    async for key in redis.scan_iter(match=f"{prefix}*"):
        kind = await redis.type(key)
        if kind == b"hash":
            held[key] = await redis.hgetall(key)
        elif kind == b"set":
            held[key] = await redis.smembers(key)
    return held


async def figures_when(
    reader: PerformanceReader, seller: str, plan: str, done: Callable[[dict[str, Any]], bool]
) -> dict[str, Any] | None:
    async def check() -> dict[str, Any] | None:
        figures = await reader.plan(seller, plan)
        return figures if figures is not None and done(figures) else None

    found: dict[str, Any] | None = await eventually(check)
    return found


async def test_redelivery_and_duplicates_change_nothing(
    perf_settings: Settings, redis: aioredis.Redis, test_id: str
) -> None:
    seller = f"s-{test_id}"
    await customer_store(perf_settings, redis).set_markets({seller: "TH"})
    reader = performance_reader(perf_settings, redis)
    events = shop_events(seller)
    await publish(perf_settings, events)

    async with running_projection(perf_settings, redis):
        figures = await figures_when(reader, seller, "p-flash", lambda f: f["coupons_claimed"])
        assert await eventually(lambda: _orders(reader, seller, "p-new"))
    assert figures == FLASH
    first = await snapshot(redis, perf_settings.topic_prefix)
    assert len(first) > 5

    # A crash before any commit: the whole log is consumed again. Then upstream
    # publishes every engagement and order again under new event ids.
    await rewind_group(perf_settings)
    duplicates = [again(e) for e in events if e.event_type != "CouponClaimed"]
    marker = b.read(th("2024-07-05"), "p-marker", "c1", seller)
    await publish(perf_settings, [*duplicates, marker])
    repeated_before = _repeated_deliveries()
    skipped_before = _skipped_redeliveries()
    async with running_projection(perf_settings, redis):
        # The marker comes after everything else on its partition (one seller, one key).
        assert await figures_when(reader, seller, "p-marker", lambda f: f["read"] == 1)
    # Each of the 4 deliveries was seen twice more. Redelivered (same event_id, same
    # content), every upstream event is a no-op before the fold (SPEC section 6);
    # republished under new ids, the fold's marks count each delivery once.
    assert _skipped_redeliveries() - skipped_before == len(
        [e for e in events if registry_topic(topic_of(e)).direction == "in"]
    )
    assert _repeated_deliveries() - repeated_before == 4
    second = await snapshot(redis, perf_settings.topic_prefix)
    # The republished progress records tie on recipients and win as the later records:
    # only the offset they were read at differs.
    for held in (first, second):
        for value in held.values():
            if isinstance(value, dict):
                value.pop(b"progress_offset", None)
    marker_keys = [k for k in second if b"p-marker" in k]
    assert marker_keys
    day_key = next(k for k in second if k.endswith(b":day:2024-07-05"))
    assert second.pop(day_key) == {b"p-marker|read": b"1"}
    for key in marker_keys:
        second.pop(key)
    plans_key = next(k for k in second if k.endswith(b":plans"))
    assert second[plans_key].pop(b"p-marker", None) is None  # no progress, no segment
    assert second == first
    assert await reader.plan(seller, "p-flash") == FLASH


def _repeated_deliveries() -> float:
    return TALLIES.labels("delivered", "repeated")._value.get()  # type: ignore[attr-defined,no-any-return]


def _skipped_redeliveries() -> float:
    return sum(
        EVENTS_REPEATED.labels("delivery", topic)._value.get()  # type: ignore[attr-defined]
        for topic in ("crm.chat-engagement", "crm.customer-activity")
    )


async def test_a_second_record_with_a_seen_event_id_changes_no_figure(
    perf_settings: Settings, redis: aioredis.Redis, test_id: str
) -> None:
    """The first record of an event_id wins: a later one with other content (another
    order, another gmv; a read of another message) is dead-lettered, counted nowhere."""
    seller = f"s-{test_id}"
    await customer_store(perf_settings, redis).set_markets({seller: "TH"})
    reader = performance_reader(perf_settings, redis)
    events = shop_events(seller)
    order = next(e for e in events if e.event_type == "OrderPlaced")
    read = next(e for e in events if e.event_type == "MessageRead")
    impostors = [
        order.model_copy(update={"order_id": "o-impostor", "gmv": 9999.0}),
        read.model_copy(update={"customer_id": "c-other", "message_id": "m-other"}),
    ]
    marker = b.read(th("2024-07-05"), "p-marker", "c1", seller)
    await publish(perf_settings, [*events, *impostors, marker])
    async with running_projection(perf_settings, redis):
        assert await figures_when(reader, seller, "p-marker", lambda f: f["read"] == 1)
    assert await reader.plan(seller, "p-flash") == FLASH
    overview = await reader.overview(seller, date(2024, 7, 1), date(2024, 7, 31))
    # p-flash's order (100.0) and p-new's (20.5); not the impostor's 9999.0.
    assert sum(s["gmv"] for s in overview["segments"]) == 120.5
    assert overview["funnel"]["ordered"] == 2
    letters = [
        decode("crm.dead-letters", r.value)
        for r in await read_records(perf_settings, "crm.dead-letters", count=2)
    ]
    assert sorted(str(letter.raw) for letter in letters) == sorted(  # type: ignore[attr-defined]
        encode(i).decode() for i in impostors
    )
    for letter in letters:
        assert "already applied with other content" in letter.error  # type: ignore[attr-defined]


async def _orders(reader: PerformanceReader, seller: str, plan: str) -> bool:
    figures = await reader.plan(seller, plan)
    return figures is not None and figures["orders"] == 1


async def test_bad_records_are_dead_lettered_and_the_rest_is_counted(
    perf_settings: Settings, redis: aioredis.Redis, test_id: str
) -> None:
    seller = f"s-{test_id}"
    reader = performance_reader(perf_settings, redis)
    wrong_key = b.progressed(th("2024-07-01"), "p-1", recipients=9, sent=9, seller=seller)
    raw = [
        ("crm.chat-engagement", seller.encode(), b"{not json"),
        # A plan's progress keyed by something else: its offsets would not order it.
        ("crm.delivery-progress", b"another-plan", encode(wrong_key)),
    ]
    good = [
        b.progressed(th("2024-07-01"), "p-1", recipients=2, sent=2, seller=seller),
        b.delivered(th("2024-07-01"), "p-1", "c1", seller),
    ]
    await publish(perf_settings, good, raw)
    async with running_projection(perf_settings, redis):
        figures = await figures_when(reader, seller, "p-1", lambda f: f["delivered"] == 1)
    # Unknown market: the day is the UTC one (10:00 in Bangkok is 03:00 UTC, same date).
    assert figures is not None
    assert (figures["recipients"], figures["sent"], figures["delivered"]) == (2, 2, 1)
    letters = await read_records(perf_settings, "crm.dead-letters", count=2)
    errors = sorted(decode("crm.dead-letters", r.value).error for r in letters)  # type: ignore[attr-defined]
    assert len(errors) == 2
    assert any("plan_id" in e for e in errors), errors
    overview = await reader.overview(seller, date(2024, 7, 1), date(2024, 7, 1))
    assert overview["funnel"]["delivered"] == 1
    assert (overview["market"], overview["time_zone"]) == (None, "UTC")
