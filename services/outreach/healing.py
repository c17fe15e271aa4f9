"""Outreach's Redis projections heal themselves after Redis lost them
(services/shared/projection_guard.py): the sub-accounts' permissions (crm.seller-accounts)
and the appeals (crm.appeals), refolded up to their groups' committed offsets before the
next event is applied. The plan read model has its own rebuild (plan_book.py), and the
quota counters theirs (services/quota/rebuild.py).

Meanwhile the API answers from what is there: a sub-account's permission not yet
refolded is a denial (fail closed), never a grant.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from schemas.envelope import Event
from schemas.seller import PermissionGranted, PermissionRevoked
from services.outreach.appeals import APPEALS_TOPIC, appeal_handlers, appeal_store
from services.outreach.permissions import ACCOUNTS_TOPIC, permission_store
from services.shared.projection_guard import ProjectionGuard, guarded

__all__ = ["appeals_guard", "guarded", "permissions_guard"]
from services.shared.settings import Settings


def permissions_guard(settings: Settings, redis: aioredis.Redis, group_id: str) -> ProjectionGuard:
    store = permission_store(settings, redis)

    async def fold(chunk: list[tuple[int, Event]]) -> None:
        for offset, event in chunk:
            if isinstance(event, PermissionGranted | PermissionRevoked):
                await store.apply(event, offset)

    return ProjectionGuard(
        settings, redis, "permissions", topics=(ACCOUNTS_TOPIC,), fold=fold, group_id=group_id
    )


def appeals_guard(settings: Settings, redis: aioredis.Redis, group_id: str) -> ProjectionGuard:
    handlers = appeal_handlers(appeal_store(settings, redis))

    async def fold(chunk: list[tuple[int, Event]]) -> None:
        for _, event in chunk:
            handle = handlers.get(type(event))
            if handle is not None:
                await handle(event)

    return ProjectionGuard(
        settings, redis, "appeals", topics=(APPEALS_TOPIC,), fold=fold, group_id=group_id
    )
