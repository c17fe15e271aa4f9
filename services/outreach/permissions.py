"""crm.seller-accounts → each sub-account's permissions in Redis.

Writes are versioned by the record's Kafka offset: every event of a seller sits on
one partition (key seller_id), so a higher offset is a later fact. A small script
applies a write only when its offset is newer than the stored one, which makes the
projection idempotent (redelivery) and order-proof (the API writes its own event
right after the ack, and the consumer writes the same event again later).

Keys (P = CRM_TOPIC_PREFIX + "outreach"), one per (seller, account):
    P:{seller_id}:account:<account_id>   hash  <permission> → granted | revoked,
                                               <permission>:offset → the record's offset
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any, get_args

import redis.asyncio as aioredis
from aiokafka.structs import RecordMetadata

from schemas.envelope import Event
from schemas.seller import Permission, PermissionGranted, PermissionRevoked
from services.shared.consumer import DeadLetteringConsumer, Handler, Record, Rejected
from services.shared.settings import Settings

ACCOUNTS_TOPIC = "crm.seller-accounts"
PERMISSIONS: tuple[Permission, ...] = get_args(Permission)

PermissionEvent = PermissionGranted | PermissionRevoked

# KEYS[1] the account's hash. ARGV: permission, granted|revoked, offset.
_APPLY_IF_NEWER = """
local stored = tonumber(redis.call('HGET', KEYS[1], ARGV[1] .. ':offset'))
if stored and stored >= tonumber(ARGV[3]) then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2], ARGV[1] .. ':offset', ARGV[3])
return 1
"""


def outreach_prefix(settings: Settings) -> str:
    """Redis key prefix of outreach's projections; follows the topic prefix so tests and
    parallel demos sharing one Redis never see each other's keys."""
    return f"{settings.topic_prefix}outreach"


def permission_events(
    seller_id: str, account_id: str, wanted: Iterable[Permission], at: datetime
) -> list[PermissionEvent]:
    """The events that make an account's whole permission set `wanted`: one grant or
    revoke per known permission, so the outcome never depends on what was there."""
    chosen = set(wanted)
    events: list[PermissionEvent] = []
    for permission in PERMISSIONS:
        kind = PermissionGranted if permission in chosen else PermissionRevoked
        events.append(
            kind(
                event_id=uuid.uuid4(),
                occurred_at=at,
                seller_id=seller_id,
                account_id=account_id,
                permission=permission,
            )
        )
    return events


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class PermissionStore:
    """Works on any redis.asyncio client (decoded responses or bytes)."""

    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix
        self._apply_if_newer = redis.register_script(_APPLY_IF_NEWER)

    def key(self, seller_id: str, account_id: str) -> str:
        return f"{self.prefix}:{{{seller_id}}}:account:{account_id}"

    async def apply(self, event: PermissionEvent, offset: int) -> bool:
        """Record the event unless a later record of the account's permission is
        already there; True when it was written."""
        state = "granted" if isinstance(event, PermissionGranted) else "revoked"
        written = await self._apply_if_newer(
            keys=[self.key(event.seller_id, event.account_id)],
            args=[event.permission, state, offset],
        )
        return bool(written)

    async def permissions(self, seller_id: str, account_id: str) -> list[Permission]:
        stored = {
            _text(k): _text(v)
            for k, v in (await self.redis.hgetall(self.key(seller_id, account_id))).items()
        }
        return [p for p in PERMISSIONS if stored.get(p) == "granted"]

    async def holds(self, seller_id: str, account_id: str, permission: Permission) -> bool:
        state = await self.redis.hget(self.key(seller_id, account_id), permission)
        return state is not None and _text(state) == "granted"


async def set_permissions(
    store: PermissionStore,
    publish: Callable[[PermissionEvent], Awaitable[RecordMetadata]],
    *,
    seller_id: str,
    account_id: str,
    wanted: Iterable[Permission],
    now: datetime,
) -> list[Permission]:
    """Publish the account's whole permission set and record each acknowledged event at
    once, so the caller's next request already sees it (the consumer applies the same
    records later, and the offset keeps that harmless)."""
    for event in permission_events(seller_id, account_id, wanted, now):
        written = await publish(event)
        await store.apply(event, written.offset)
    return await store.permissions(seller_id, account_id)


def permission_store(settings: Settings, redis: aioredis.Redis) -> PermissionStore:
    return PermissionStore(redis, outreach_prefix(settings))


def permissions_handler(store: PermissionStore) -> Handler:
    async def project(event: Event, record: Record) -> None:
        if not isinstance(event, PermissionGranted | PermissionRevoked):
            return  # a ShopProfileUpdated: delivery's (the shop name of its messages)
        key = record.key.decode(errors="replace") if record.key is not None else None
        if key != event.seller_id:
            # Offsets order a seller's facts only within its partition (key seller_id).
            raise Rejected(f"key: must be the seller_id {event.seller_id!r}, got {key!r}")
        await store.apply(event, record.offset)

    return project


def permissions_consumer(
    settings: Settings, redis: aioredis.Redis, group_id: str
) -> DeadLetteringConsumer:
    return DeadLetteringConsumer(
        settings,
        service="outreach",
        topics=[ACCOUNTS_TOPIC],
        group_id=group_id,
        handler=permissions_handler(permission_store(settings, redis)),
    )
