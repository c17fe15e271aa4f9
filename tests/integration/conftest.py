"""One broker and one Redis for the whole session; every test gets its own topics,
consumer groups and Redis key prefix, so tests never see each other's data."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest
import redis.asyncio as aioredis

from services.shared.kafka import admin_client, create_topics, wait_for_kafka
from services.shared.settings import Settings
from tests.integration import infra


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    with infra.kafka_bootstrap() as bootstrap:
        yield bootstrap


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with infra.redis_url() as url:
        yield url


@pytest.fixture
def test_id() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
async def settings(kafka_bootstrap: str, test_id: str) -> Settings:
    settings = Settings(
        kafka_bootstrap=kafka_bootstrap, topic_prefix=f"t{test_id}.", env="development"
    )
    await wait_for_kafka(settings)
    return settings


@pytest.fixture
async def topics(settings: Settings) -> AsyncIterator[Callable[..., Awaitable[list[str]]]]:
    """`await topics("crm.seller-metrics", ...)` creates this test's copies of them."""

    async def make(*names: str, partitions: int | None = None) -> list[str]:
        await create_topics(settings, list(names), partitions=partitions)
        return [settings.topic(n) for n in names]

    yield make
    # Everything under the test's prefix goes, including topics a faust app declared.
    async with admin_client(settings) as client:
        mine = [t for t in await client.list_topics() if t.startswith(settings.topic_prefix)]
        if mine:
            await client.delete_topics(mine)


@pytest.fixture
def group_id(test_id: str) -> str:
    return f"g{test_id}"


@pytest.fixture
async def redis_client(redis_url: str, test_id: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_url)
    yield client
    keys = [k async for k in client.scan_iter(match=f"*{test_id}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()
