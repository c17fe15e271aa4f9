"""The Redis store follows the customers port's rules: the scenarios the in-memory fake
passes (tests/unit/customers/test_fake_store.py), on real Redis."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
import redis.asyncio as aioredis

from services.customers.port import CustomerStore, customer_store
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
