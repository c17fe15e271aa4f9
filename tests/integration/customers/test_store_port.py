"""The Redis store follows the customers port's rules: the scenarios the in-memory fake
passes (tests/unit/customers/test_fake_store.py), on real Redis."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date

import pytest
import redis.asyncio as aioredis

from services.customers.port import CustomerStore, customer_store
from services.customers.store import RedisCustomerStore
from services.shared.settings import Settings
from tests import customer_store_contract


@pytest.mark.parametrize("scenario", customer_store_contract.SCENARIOS, ids=lambda s: s.__name__)
async def test_the_redis_store_follows_the_port_rules(
    scenario: Callable[[CustomerStore, str], Awaitable[None]],
    settings: Settings,
    redis_client: aioredis.Redis,
    test_id: str,
) -> None:
    await scenario(customer_store(settings, redis_client), f"seller-{test_id}")


async def test_a_day_written_as_a_set_before_member_pages_is_still_read(
    settings: Settings, redis_client: aioredis.Redis, test_id: str
) -> None:
    """An upgrade within the memberships' lifetime: yesterday's version wrote the day's
    members as a set; delivery must still find them until the day is written again."""
    store = customer_store(settings, redis_client)
    assert isinstance(store, RedisCustomerStore)
    seller, day = f"seller-{test_id}", date(2026, 12, 6)
    await store.write_memberships(seller, day, {"followers": []})
    legacy = store.legacy_members_key(seller, day, "followers")
    await redis_client.sadd(legacy, *[f"c{n}" for n in range(7000)])

    read = [c async for page in store.members(seller, "followers", day) for c in page]
    assert sorted(read) == sorted(f"c{n}" for n in range(7000))

    # Written again (the next recompute of that day): pages, and the set is gone.
    await store.write_memberships(seller, day, {"followers": ["c2", "c1"]})
    assert not await redis_client.exists(legacy)
    read = [c async for page in store.members(seller, "followers", day) for c in page]
    assert read == ["c1", "c2"]
