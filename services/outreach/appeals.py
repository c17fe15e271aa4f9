"""crm.appeals → each seller's appeals in Redis, as the API lists them.

Submits and decisions may be written in any order and more than once (the API writes
its own submit right after the ack, the consumer writes it again; a decision can be
applied before the API's own write lands): a submit only fills fields that are
still empty, so it never reopens a decided appeal, and the first decision of an
appeal is final, as the eligibility engine treats it.

Keys (P = CRM_TOPIC_PREFIX + "outreach"):
    P:{seller_id}:appeal:<appeal_id>   hash    appeal_id, account_id, text, submitted_at,
                                               status (open | approved | rejected),
                                               decided_at, note (JSON: null or a string)
    P:{seller_id}:appeals              set     the seller's appeal ids
    P:{seller_id}:appeal-submission    string  lock held while the API submits one
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from contextlib import suppress
from datetime import datetime
from typing import Any, Literal

import redis.asyncio as aioredis
from pydantic import BaseModel
from redis.asyncio.lock import Lock
from redis.exceptions import LockError

from schemas.envelope import Event
from schemas.seller import AppealDecided, AppealSubmitted, SellerStatusChanged
from services.outreach.permissions import outreach_prefix
from services.quota.port import QuotaPort
from services.shared.consumer import DeadLetteringConsumer, Handler, Record
from services.shared.settings import Settings

APPEALS_TOPIC = "crm.appeals"
# Long enough for a publish acknowledged by Kafka; short enough that a process
# that died mid-submit blocks the seller only briefly.
SUBMISSION_LOCK_SECONDS = 15.0

AppealStatus = Literal["open", "approved", "rejected"]

# KEYS[1] the appeal's hash, KEYS[2] the seller's index. ARGV: appeal_id, status,
# decided_at, note (JSON). The first decision is final.
_DECIDE_ONCE = """
if redis.call('HEXISTS', KEYS[1], 'decided_at') == 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'appeal_id', ARGV[1], 'status', ARGV[2],
           'decided_at', ARGV[3], 'note', ARGV[4])
redis.call('SADD', KEYS[2], ARGV[1])
return 1
"""


class Appeal(BaseModel):
    """An appeal as the seller sees it. `text`, `account_id` and `submitted_at` are null
    only for a decision whose submit has not been read yet."""

    appeal_id: str
    status: AppealStatus
    text: str | None
    account_id: str | None
    submitted_at: datetime | None
    decided_at: datetime | None = None
    note: str | None = None


def appeal_refusal(status: SellerStatusChanged | None, open_appeal: Appeal | None) -> str | None:
    """Why a seller may not appeal now (SPEC section 3), or None when it may."""
    access = status.access if status is not None else "not_enrolled"
    if access != "suspended":
        return f"only a suspended seller may appeal; this seller is {access}"
    if open_appeal is not None:
        return f"appeal {open_appeal.appeal_id} is still open; one open appeal at a time"
    return None


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _appeal(fields: dict[str, str]) -> Appeal:
    return Appeal.model_validate(
        {
            "appeal_id": fields["appeal_id"],
            "status": fields.get("status", "open"),
            "text": fields.get("text"),
            "account_id": fields.get("account_id"),
            "submitted_at": fields.get("submitted_at"),
            "decided_at": fields.get("decided_at"),
            "note": json.loads(fields["note"]) if fields.get("note") else None,
        }
    )


class AppealStore:
    """Works on any redis.asyncio client (decoded responses or bytes)."""

    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix
        self._decide_once = redis.register_script(_DECIDE_ONCE)

    def _appeal_key(self, seller_id: str, appeal_id: str) -> str:
        return f"{self.prefix}:{{{seller_id}}}:appeal:{appeal_id}"

    def _index_key(self, seller_id: str) -> str:
        return f"{self.prefix}:{{{seller_id}}}:appeals"

    def submission_lock(self, seller_id: str) -> Lock:
        """Serialises the API's check-then-publish of one seller's appeals."""
        return self.redis.lock(
            f"{self.prefix}:{{{seller_id}}}:appeal-submission",
            timeout=SUBMISSION_LOCK_SECONDS,
            blocking=False,
        )

    async def record_submitted(self, event: AppealSubmitted) -> None:
        key = self._appeal_key(event.seller_id, event.appeal_id)
        fields = {
            "appeal_id": event.appeal_id,
            "account_id": event.account_id,
            "text": event.text,
            "submitted_at": event.occurred_at.isoformat(),
            "status": "open",
        }
        async with self.redis.pipeline(transaction=True) as pipe:
            for name, value in fields.items():
                pipe.hsetnx(key, name, value)
            pipe.sadd(self._index_key(event.seller_id), event.appeal_id)
            await pipe.execute()

    async def record_decided(self, event: AppealDecided) -> bool:
        """True when this was the appeal's first decision."""
        written = await self._decide_once(
            keys=[
                self._appeal_key(event.seller_id, event.appeal_id),
                self._index_key(event.seller_id),
            ],
            args=[
                event.appeal_id,
                "approved" if event.approved else "rejected",
                event.occurred_at.isoformat(),
                json.dumps(event.note),
            ],
        )
        return bool(written)

    async def appeals(self, seller_id: str) -> list[Appeal]:
        """The seller's appeals, the latest first."""
        ids = sorted(_text(i) for i in await self.redis.smembers(self._index_key(seller_id)))
        async with self.redis.pipeline(transaction=False) as pipe:
            for appeal_id in ids:
                pipe.hgetall(self._appeal_key(seller_id, appeal_id))
            stored = await pipe.execute()
        appeals = [
            _appeal({_text(k): _text(v) for k, v in fields.items()}) for fields in stored if fields
        ]
        return sorted(appeals, key=latest_first)

    async def open_appeal(self, seller_id: str) -> Appeal | None:
        return next((a for a in await self.appeals(seller_id) if a.status == "open"), None)


def latest_first(appeal: Appeal) -> tuple[float, str]:
    when = appeal.submitted_at or appeal.decided_at
    return (-(when.timestamp() if when else 0.0), appeal.appeal_id)


class AppealRefused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def submit_appeal(
    store: AppealStore,
    quota: QuotaPort,
    publish: Callable[[AppealSubmitted], Awaitable[object]],
    *,
    seller_id: str,
    account_id: str,
    text: str,
    now: datetime,
) -> Appeal:
    """Check, publish (acknowledged) and record a new appeal, or AppealRefused. One
    submission per seller at a time: two at once would both pass the check."""
    lock = store.submission_lock(seller_id)
    if not await lock.acquire():
        raise AppealRefused("another appeal of this seller is being submitted")
    try:
        refusal = appeal_refusal(
            await quota.seller_status(seller_id), await store.open_appeal(seller_id)
        )
        if refusal is not None:
            raise AppealRefused(refusal)
        event = AppealSubmitted(
            event_id=uuid.uuid4(),
            occurred_at=now,
            appeal_id=str(uuid.uuid4()),
            seller_id=seller_id,
            account_id=account_id,
            text=text,
        )
        await publish(event)
        await store.record_submitted(event)
    finally:
        # A lock that expired meanwhile is someone else's now; the appeal stands.
        with suppress(LockError):
            await lock.release()
    return Appeal(
        appeal_id=event.appeal_id,
        status="open",
        text=text,
        account_id=account_id,
        submitted_at=now,
    )


def appeal_store(settings: Settings, redis: aioredis.Redis) -> AppealStore:
    return AppealStore(redis, outreach_prefix(settings))


def appeal_handlers(store: AppealStore) -> dict[type[Event], Callable[[Any], Awaitable[Any]]]:
    """What each event of crm.appeals does to the store (the consumer and the refold
    both dispatch through it)."""
    return {AppealSubmitted: store.record_submitted, AppealDecided: store.record_decided}


def appeals_handler(store: AppealStore) -> Handler:
    handlers = appeal_handlers(store)

    async def project(event: Event, _: Record) -> None:
        handle = handlers.get(type(event))
        if handle is not None:
            await handle(event)

    return project


def appeals_consumer(
    settings: Settings, redis: aioredis.Redis, group_id: str
) -> DeadLetteringConsumer:
    return DeadLetteringConsumer(
        settings,
        service="outreach",
        topics=[APPEALS_TOPIC],
        group_id=group_id,
        handler=appeals_handler(appeal_store(settings, redis)),
    )
