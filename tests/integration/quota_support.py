"""Helpers for the quota integration tests: a RedisQuota on the session's Redis and
this test's topics, and a way to set statuses straight into its projection."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from schemas.seller import SellerStatusChanged
from services.quota.adapter import RedisQuota, open_quota
from services.quota.domain.ledger_facts import LEDGER_EVENTS, LedgerEvent
from services.quota.ledger_topic import LEDGER_TOPIC
from services.shared.codec import decode
from services.shared.settings import Settings
from tests.integration.kafka_io import read_records
from tests.quota_contract import SetStatus

QUOTA_TOPICS = (LEDGER_TOPIC, "crm.seller-status", "crm.dead-letters")


@asynccontextmanager
async def redis_quota(settings: Settings, redis_url: str) -> AsyncIterator[RedisQuota]:
    async with open_quota(settings.model_copy(update={"redis_url": redis_url})) as quota:
        yield quota


def projecting(quota: RedisQuota) -> SetStatus:
    """Writes statuses as the seller-status consumer would, one record after another."""
    offsets = itertools.count(1)

    async def set_status(status: SellerStatusChanged) -> None:
        await quota.store.put_status(status, next(offsets))

    return set_status


async def ledger_events(settings: Settings, count: int, wait_ms: int = 10_000) -> list[LedgerEvent]:
    records = await read_records(settings, LEDGER_TOPIC, count=count, wait_ms=wait_ms)
    events = [decode(LEDGER_TOPIC, r.value) for r in records]
    assert all(isinstance(e, LEDGER_EVENTS) for e in events)
    return events  # type: ignore[return-value]
