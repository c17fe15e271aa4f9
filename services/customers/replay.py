"""`crm replay`, customers part: fold every customer topic from its start into the store.

Folding is idempotent and order-independent, so replaying over what Redis still holds
repairs it without a reset. The projection must be the only writer meanwhile (a
concurrent read-fold-write would lose one side's update), so the replay refuses to run
while `crm worker customers` has live members in its consumer group.
"""

from __future__ import annotations

from collections.abc import Callable

from services.customers.definitions import SegmentDefinitions
from services.customers.projection import TOPICS, CustomerProjection
from services.customers.store import customer_store, customers_prefix, customers_redis
from services.customers.worker import projection_group
from services.quota.replay import replay
from services.shared.kafka import admin_client
from services.shared.settings import Settings

CHUNK = 5000
Progress = Callable[[str, int, int], None]


class WorkerRunning(RuntimeError):
    pass


async def _live_members(settings: Settings) -> int:
    group = projection_group(settings)
    async with admin_client(settings) as client:
        described = await client.describe_consumer_groups([group])
    # Each description is (error_code, group_id, state, protocol_type, protocol, members, …).
    return sum(len(d[5]) for g in described for d in g.groups if d[1] == group)


async def rebuild_customers(settings: Settings, progress: Progress | None = None) -> int:
    """Fold every record of the customer topics; returns how many were folded."""
    if await _live_members(settings):
        raise WorkerRunning(
            "crm worker customers is running: stop it first (`crm dev down` or its process),"
            " the replay must be the projection's only writer"
        )
    redis = customers_redis(settings)
    projection = CustomerProjection(
        customer_store(settings, redis), SegmentDefinitions(redis, customers_prefix(settings))
    )
    folded = 0
    try:
        for topic in TOPICS:
            chunk = []
            async for offset, event in replay(settings, topic, progress):
                chunk.append((offset, event))
                if len(chunk) >= CHUNK:
                    await projection.apply(chunk)
                    folded, chunk = folded + len(chunk), []
            await projection.apply(chunk)
            folded += len(chunk)
    finally:
        await redis.aclose()
    return folded
