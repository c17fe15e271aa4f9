"""The seller API under test: a real uvicorn on loopback serving `build_app` over a
runtime on this test's topics and Redis prefix, with a clock the test sets.

`api.client` is an httpx client on it; `api.token(...)` mints tokens with the
runtime's secret and clock; `api.runtime` is the open runtime (quota port, stores).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

import httpx
import pytest
import redis.asyncio as aioredis

from services.outreach.api.app import build_app
from services.outreach.api.auth import Role, mint_token
from services.outreach.api.runtime import Runtime, open_runtime
from services.shared.settings import Settings
from tests.integration.outreach.serving import serving
from tests.quota_contract import MID_WEEK

API_TOPICS = (
    "crm.seller-accounts",
    "crm.appeals",
    "crm.seller-status",
    "crm.quota-ledger",
    "crm.dead-letters",
    "crm.plan-commands",
    "crm.plan-events",
    "crm.plan-replies",
)


class FixedClock:
    """The runtime's clock: stands still at `now` until a test moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class ApiUnderTest:
    settings: Settings
    runtime: Runtime
    clock: FixedClock
    base_url: str
    client: httpx.AsyncClient

    def token(
        self, seller_id: str, account_id: str | None = None, role: Role = "owner", ttl: int = 3600
    ) -> str:
        secret = self.settings.jwt_secret.get_secret_value()
        return mint_token(secret, seller_id, account_id or seller_id, role, ttl, self.clock())

    def auth(
        self, seller_id: str, account_id: str | None = None, role: Role = "owner"
    ) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(seller_id, account_id, role)}"}


@pytest.fixture
async def api_settings(settings: Settings, topics, redis_url: str) -> Settings:  # type: ignore[no-untyped-def]
    await topics(*API_TOPICS)
    return settings.model_copy(update={"redis_url": redis_url})


@pytest.fixture
async def api(api_settings: Settings) -> AsyncIterator[ApiUnderTest]:
    clock = FixedClock(MID_WEEK)
    async with open_runtime(api_settings, clock=clock) as runtime:
        try:
            async with (
                serving(build_app(runtime)) as base_url,
                httpx.AsyncClient(base_url=base_url, timeout=30.0) as client,
            ):
                yield ApiUnderTest(api_settings, runtime, clock, base_url, client)
        finally:
            await _delete_keys(runtime.redis, f"{api_settings.topic_prefix}*")


async def _delete_keys(redis: aioredis.Redis, pattern: str) -> None:
    # A large COUNT: the shared Redis may hold many keys, and SCAN visits them all.
    doomed = [key async for key in redis.scan_iter(match=pattern, count=10_000)]
    if doomed:
        await redis.delete(*doomed)
