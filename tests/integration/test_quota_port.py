"""The Redis adapter follows the port's rules: the scenarios the fake passes, on real
Redis with the ledger on real Kafka, and 200 concurrent reserves against a quota of 3."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from demo.sample_status import sample_status
from services.quota.domain.week import KEYS_OUTLIVE_WEEK_BY, week_of
from services.quota.keys import _slot_tags
from services.shared.settings import Settings
from tests import quota_contract
from tests.integration.quota_support import (
    QUOTA_TOPICS,
    ledger_events,
    projecting,
    redis_quota,
)
from tests.quota_contract import MID_WEEK


@pytest.mark.parametrize("scenario", quota_contract.SCENARIOS, ids=lambda s: s.__name__)
async def test_the_redis_adapter_follows_the_port_rules(
    scenario, settings: Settings, topics, redis_url: str, test_id: str, redis_client
) -> None:  # type: ignore[no-untyped-def]
    await topics(*QUOTA_TOPICS)
    async with redis_quota(settings, redis_url) as quota:
        await scenario(quota, projecting(quota), f"seller-{test_id}")


async def test_a_seller_without_status_has_quota_zero(
    settings: Settings, topics, redis_url: str, test_id: str, redis_client
) -> None:  # type: ignore[no-untyped-def]
    await topics(*QUOTA_TOPICS)
    async with redis_quota(settings, redis_url) as quota:
        await quota_contract.a_seller_without_status_has_quota_zero(quota, f"seller-{test_id}")


async def test_200_concurrent_reserves_against_a_quota_of_3_take_exactly_3(
    settings: Settings, topics, redis_url: str, test_id: str, redis_client
) -> None:  # type: ignore[no-untyped-def]
    await topics(*QUOTA_TOPICS)
    rounds, clients, quota_size = 20, 200, 3
    async with redis_quota(settings, redis_url) as quota:
        set_status = projecting(quota)
        for round_ in range(rounds):
            seller = f"seller-{test_id}-{round_}"
            await set_status(sample_status(seller, weekly_quota=quota_size))
            answers = await asyncio.gather(
                *(
                    quota.reserve(seller, f"plan-{round_}-{n}", "one_time", MID_WEEK)
                    for n in range(clients)
                )
            )
            outcomes = Counter(a.outcome for a in answers)
            assert outcomes == {"reserved": quota_size, "quota_exhausted": clients - quota_size}
            assert sorted(a.used for a in answers if a.outcome == "reserved") == [1, 2, 3]
            usage = await quota.usage(seller, MID_WEEK)
            assert (usage.used, usage.left) == (quota_size, 0)

    events = await ledger_events(settings, rounds * quota_size)
    assert len({e.event_id for e in events}) == rounds * quota_size
    assert {e.event_type for e in events} == {"QuotaReserved"}


async def test_week_keys_expire_four_weeks_after_their_week(
    settings: Settings, topics, redis_url: str, test_id: str, redis_client
) -> None:  # type: ignore[no-untyped-def]
    await topics(*QUOTA_TOPICS)
    seller = f"seller-{test_id}"
    now = datetime.now(UTC)
    async with redis_quota(settings, redis_url) as quota:
        await projecting(quota)(sample_status(seller, market="US", weekly_quota=3))
        await quota.reserve(seller, "plan-this-week", "one_time", now)
        await quota.reserve(seller, "plan-next-week", "one_time", now + timedelta(days=7))
        for at in (now, now + timedelta(days=7)):
            week = week_of(at, "US")
            expires_ms = await quota.store.redis.pexpiretime(
                quota.store.keys.week(seller, week.label)
            )
            expected = week.ends_at + KEYS_OUTLIVE_WEEK_BY
            assert abs(expires_ms / 1000 - expected.timestamp()) < 1, week.label


async def test_a_counter_read_by_its_label_holds_what_usage_answers(
    settings: Settings, topics, redis_url: str, test_id: str, redis_client
) -> None:  # type: ignore[no-untyped-def]
    # The soak's checker reads counters by label (week or campaign) through the port.
    await topics(*QUOTA_TOPICS)
    seller = f"seller-{test_id}"
    async with redis_quota(settings, redis_url) as quota:
        await projecting(quota)(sample_status(seller, weekly_quota=5))
        await quota.reserve(seller, "plan-1", "one_time", MID_WEEK)
        await quota.reserve(seller, "plan-2", "one_time", MID_WEEK)
        usage = await quota.usage(seller, MID_WEEK)
        assert usage.week is not None
        assert await quota.counter_used(seller, usage.week) == usage.used == 2
        assert await quota.counter_used(seller, "2000-W01") == 0


async def test_the_slot_tags_are_built_when_the_adapter_opens(
    settings: Settings, topics, redis_url: str
) -> None:  # type: ignore[no-untyped-def]
    # Built on first use they held the event loop ~150 ms inside the first submit.
    _slot_tags.cache_clear()
    async with redis_quota(settings, redis_url):
        assert _slot_tags.cache_info().currsize == 1
