"""The customers projection heals itself after Redis lost it (services/shared/projection_guard.py).

The refold reads the customer topics up to the projection group's committed offsets
into a projection of its own (no trigger observer: the firing engine's schedule lives
in memory and did not lose anything), then recomputes every seller's memberships as of
today in its market, which moves `as_of` back where it was. Only then is the marker
set: delivery and the firing engine wait for it. A fan-out that had pinned an earlier
day (it began before midnight) goes on with today's memberships, in customer order
after the last one it handled (services/delivery/fanout.py).
"""

from __future__ import annotations

import redis.asyncio as aioredis

from schemas.envelope import Event
from services.customers.projection import TOPICS, CustomerProjection
from services.customers.recompute import Recompute
from services.customers.store import customer_store
from services.shared import groups
from services.shared.clock import Clock
from services.shared.projection_guard import ProjectionGuard
from services.shared.settings import Settings

NAME = "customers"


def customers_guard(settings: Settings, redis: aioredis.Redis, clock: Clock) -> ProjectionGuard:
    store = customer_store(settings, redis)
    definitions = store.definitions
    refold = CustomerProjection(store, definitions)
    recompute = Recompute(store, definitions, clock)

    async def fold(chunk: list[tuple[int, Event]]) -> None:
        await refold.apply(chunk)

    async def memberships() -> None:
        await recompute.everyone()

    return ProjectionGuard(
        settings,
        redis,
        NAME,
        topics=TOPICS,
        fold=fold,
        group_id=groups.customers(settings),
        after=memberships,
    )


async def mark_whole(settings: Settings, redis: aioredis.Redis) -> None:
    """Say the customers projection is whole without a customers worker: for a test or a
    bench that writes the store directly, standing in for the worker."""
    guard = ProjectionGuard(settings, redis, NAME, topics=TOPICS, fold=_never)
    await redis.set(guard.marker_key, "seeded")


async def _never(chunk: list[tuple[int, Event]]) -> None:
    raise AssertionError("a stand-in's guard never refolds")
