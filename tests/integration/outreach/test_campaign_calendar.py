"""The campaign calendar: crm.campaigns projected into Redis by the outreach worker's
consumer (bad records dead-lettered, a later announcement of a campaign replacing the
earlier one), and rebuilt from the topic when Redis lost it."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import suppress
from datetime import timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis

from schemas.campaigns import CampaignAnnounced
from schemas.dead_letter import DeadLetter
from services.outreach.campaigns import campaign_calendar, campaigns_consumer
from services.shared.codec import decode, encode
from services.shared.kafka import new_producer
from services.shared.settings import Settings
from tests.integration.kafka_io import read_records
from tests.integration.outreach.processor_support import campaign
from tests.integration.outreach.support import eventually


@pytest.fixture
async def redis(settings: Settings, topics: Any, redis_url: str) -> AsyncIterator[aioredis.Redis]:
    await topics("crm.campaigns", "crm.dead-letters")
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.delete(campaign_calendar(settings, client).key)
    await client.aclose()


async def _publish(settings: Settings, *records: tuple[bytes, bytes]) -> None:
    producer = new_producer(settings)
    await producer.start()
    try:
        for key, value in records:
            await producer.send_and_wait(settings.topic("crm.campaigns"), value, key=key)
    finally:
        await producer.stop()


def _record(event: CampaignAnnounced, key: str | None = None) -> tuple[bytes, bytes]:
    return (key or event.campaign_id).encode(), encode(event)


def _corrected(event: CampaignAnnounced, **changes: Any) -> CampaignAnnounced:
    return event.model_copy(update={"event_id": uuid.uuid4(), **changes})


async def test_the_consumer_keeps_each_campaigns_latest_announcement(
    settings: Settings, redis: aioredis.Redis, test_id: str, group_id: str
) -> None:
    sale = campaign(f"sale-{test_id}", plans_per_seller=2)
    corrected = _corrected(sale, plans_per_seller=3, ends_at=sale.ends_at + timedelta(days=1))
    impossible = json.loads(encode(campaign(f"bad-{test_id}")))
    impossible["ends_at"] = impossible["starts_at"]
    await _publish(
        settings,
        (b"x", b"{not json"),
        _record(campaign(f"miskeyed-{test_id}"), key="another-campaign"),
        (f"bad-{test_id}".encode(), json.dumps(impossible).encode()),
        _record(sale),
        _record(corrected),
    )
    calendar = campaign_calendar(settings, redis)
    consumer = campaigns_consumer(settings, redis, group_id)
    consuming = asyncio.create_task(consumer.run())
    try:

        async def latest() -> bool:
            return await calendar.stored(sale.campaign_id) == corrected

        assert await eventually(latest), "the corrected announcement replaced the first"
        letters = await read_records(settings, "crm.dead-letters", count=3)
    finally:
        consuming.cancel()
        with suppress(asyncio.CancelledError):
            await consuming
    decoded = [decode("crm.dead-letters", r.value) for r in letters]
    assert all(isinstance(d, DeadLetter) and d.service == "outreach" for d in decoded)
    errors = sorted(d.error.split(":")[0] for d in decoded)  # type: ignore[union-attr]
    assert errors == ["ends_at", "invalid JSON", "key"], decoded
    assert await calendar.stored(f"miskeyed-{test_id}") is None
    # Redelivery of the first announcement (an older offset) changes nothing.
    assert not await calendar.apply(sale, 3)
    assert await calendar.stored(sale.campaign_id) == corrected


async def test_a_lost_calendar_is_rebuilt_from_the_topic_on_the_first_miss(
    settings: Settings, redis: aioredis.Redis, test_id: str
) -> None:
    sale = campaign(f"sale-{test_id}")
    corrected = _corrected(sale, markets=["TH", "ID", "VN"])
    await _publish(
        settings,
        _record(sale),
        _record(campaign(f"miskeyed-{test_id}"), key="another-campaign"),
        _record(corrected),
    )
    calendar = campaign_calendar(settings, redis)
    assert not await calendar.is_complete(), "a fresh (or wiped) Redis has no calendar"

    assert await calendar.campaign(sale.campaign_id) == corrected
    assert await calendar.is_complete()
    assert await calendar.campaign(f"miskeyed-{test_id}") is None, "the consumer refuses it too"
    assert await calendar.campaign(f"never-{test_id}") is None
