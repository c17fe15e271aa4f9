"""The customers projection heals itself after Redis lost it (services/shared/projection_guard.py).

The refold reads the customer topics up to the projection group's committed offsets
into a projection of its own (no trigger observer: the firing engine's schedule lives
in memory and did not lose anything), then recomputes every seller's memberships as of
today in its market, which moves `as_of` back where it was. Only then is the marker
set: delivery and the firing engine wait for it. A fan-out that had pinned an earlier
day (it began before midnight) goes on with today's memberships, in customer order
after the last one it handled (services/delivery/fanout.py).

A large crm.customer-activity (200,000 records or more) is refolded by one process per
core, each owning a share of the sellers (services/shared/refold_split.py), and the
memberships are recomputed the same way: issue 20 wants 1,000,000 relationships whole
again within a minute.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import redis.asyncio as aioredis

from schemas.envelope import Event
from services.customers.projection import TOPICS, CustomerProjection
from services.customers.recompute import CONCURRENCY, Recompute
from services.customers.store import customer_store, customers_redis
from services.shared import groups
from services.shared.clock import Clock
from services.shared.projection_guard import ProjectionGuard, Split, refold_topic
from services.shared.refold_split import Share
from services.shared.settings import Settings

NAME = "customers"
# The one customer topic of any size, keyed by seller: refolded by several processes.
SPLIT_TOPIC = "crm.customer-activity"


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
        split=Split(SPLIT_TOPIC, refold_share, clock, after=memberships_share),
    )


async def refold_share(
    share: Share, settings: Settings, topic: str, until: Mapping[int, int] | None
) -> int:
    """In a process of a shared refold: the relationships of the sellers the share owns
    (crm.customer-activity is keyed by seller, so each seller's pairs have one writer)."""
    redis = customers_redis(settings, max_connections=4)
    try:
        store = customer_store(settings, redis)
        refold = CustomerProjection(store, store.definitions)
        return await refold_topic(
            settings, topic, refold.apply, until=until, owns=share.owns, progress=share.report
        )
    finally:
        await redis.aclose()


async def memberships_share(share: Share, settings: Settings, now: datetime) -> None:
    """In a process of a shared refold: the memberships of the sellers the share owns,
    each as of today in its market at `now` (Recompute.everyone, split)."""
    redis = customers_redis(settings, max_connections=CONCURRENCY + 2)
    try:
        store = customer_store(settings, redis)
        recompute = Recompute(store, store.definitions, lambda: now)
        sellers = {*await store.markets(), *await store.sellers()}
        await recompute.sellers([s for s in sellers if share.owns_text(s)])
    finally:
        await redis.aclose()


async def mark_whole(settings: Settings, redis: aioredis.Redis) -> None:
    """Say the customers projection is whole without a customers worker: for a test or a
    bench that writes the store directly, standing in for the worker."""
    guard = ProjectionGuard(settings, redis, NAME, topics=TOPICS, fold=_never)
    await redis.set(guard.marker_key, "seeded")


async def _never(chunk: list[tuple[int, Event]]) -> None:
    raise AssertionError("a stand-in's guard never refolds")
