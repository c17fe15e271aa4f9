"""Crafted shops for the segment tests: relationships folded from builder events and
profiles, written straight into the customers store (the projection's job in production)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime

import redis.asyncio as aioredis

from services.customers.definitions import SegmentDefinitions
from services.customers.domain.profile import Profile
from services.customers.domain.relationship import RelationshipEvent, fold
from services.customers.recompute import Recompute
from services.customers.store import RedisCustomerStore, customer_store, customers_prefix
from services.shared.settings import Settings
from tests.unit.customers import builders as b

D = date(2024, 7, 3)
"""The day the crafted histories are judged as of (a Wednesday)."""
JAVA = ["JK", "JB", "JT", "JI", "YO", "BT"]
JAVA_BUYERS = [
    {"field": "region", "op": "in", "value": JAVA},
    {"field": "is_follower", "op": "is_true", "value": None},
    {"field": "order_count", "op": "eq", "value": 0},
]


def idn(day: str, clock: str = "12:00") -> datetime:
    """Jakarta wall-clock time."""
    return b.local("ID", day, clock)


def crafted_histories() -> dict[str, list[RelationshipEvent]]:
    """One customer per built-in segment (as of D in ID), and the Java example's cases."""
    return {
        "new": [b.ordered(idn("2024-06-25"), "o1", 40.0)],
        "repeat": [
            b.ordered(idn("2024-03-01"), "o1", 500.0),
            b.ordered(idn("2024-06-01"), "o2", 700.0),
        ],
        "lapsed": [b.ordered(idn("2023-12-01"), "o1", 10.0)],
        "fan-java": [b.followed(idn("2024-05-01"))],
        "fan-bali": [b.followed(idn("2024-05-01"))],
        "fan-unknown": [b.followed(idn("2024-05-01"))],
        "cart": [b.viewed(idn("2024-07-01")), b.cart_added(idn("2024-07-02", "23:59"))],
        # Everything after D 00:00 Jakarta is tomorrow's news.
        "too-late": [b.followed(idn("2024-07-03", "00:00")), b.ordered(idn("2024-07-03", "01:00"))],
    }


def crafted_profiles() -> dict[str, Profile]:
    at = datetime(2024, 1, 1, tzinfo=UTC)
    return {
        "fan-java": Profile(region="JK", city="Jakarta", updated_at=at),
        "fan-bali": Profile(region="BA", city="Denpasar", updated_at=at),
        "new": Profile(region="JB", updated_at=at),
        "too-late": Profile(region="JT", updated_at=at),
    }


async def fill(
    store: RedisCustomerStore,
    seller: str,
    histories: dict[str, list[RelationshipEvent]],
    market: str | None = "ID",
) -> None:
    await store.save_relationships({seller: {c: fold(events) for c, events in histories.items()}})
    if market is not None:
        await store.set_markets({seller: market})


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Shop:
    settings: Settings
    redis: aioredis.Redis
    store: RedisCustomerStore
    definitions: SegmentDefinitions
    clock: FixedClock

    def recompute(self, store: RedisCustomerStore | None = None) -> Recompute:
        return Recompute(store or self.store, self.definitions, self.clock)

    async def members(self, seller: str, segment: str, day: date = D) -> set[str]:
        return {c async for page in self.store.members(seller, segment, day) for c in page}


@asynccontextmanager
async def shop(settings: Settings, redis_url: str) -> AsyncIterator[Shop]:
    """A bytes client on the test's key prefix; every key under it is deleted after."""
    redis = aioredis.Redis.from_url(redis_url, decode_responses=False)
    store = customer_store(settings, redis)
    definitions = SegmentDefinitions(redis, customers_prefix(settings))
    try:
        yield Shop(settings, redis, store, definitions, FixedClock(idn("2024-07-03", "12:00")))
    finally:
        doomed = [k async for k in redis.scan_iter(match=f"{settings.topic_prefix}*", count=10_000)]
        if doomed:
            await redis.delete(*doomed)
        await redis.aclose()
