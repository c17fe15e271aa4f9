"""Publishes ledger facts that Redis took but whose ledger write was never
confirmed (a process died between the two), then confirms them."""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog

from services.quota.ledger_topic import LedgerWriter
from services.quota.metrics import REPUBLISHED
from services.quota.redis_store import RedisQuotaStore

log = structlog.get_logger(__name__)


async def republish_pending(
    store: RedisQuotaStore,
    ledger: LedgerWriter,
    now: datetime,
    *,
    older_than: timedelta = timedelta(0),
) -> int:
    """Publish and confirm every pending fact taken before `now - older_than`.

    Facts younger than that may still be in flight in a live process; publishing
    them too would only duplicate them (same event_id), so they are left alone.
    """
    published = 0
    for seller_id in await store.sellers_with_pending():
        events = [e for e in await store.pending_of(seller_id) if e.occurred_at <= now - older_than]
        if not events:
            continue
        await ledger.publish(events)
        market = await store.seller_market(seller_id)
        await store.heal(seller_id, market, events, now)
        published += len(events)
    if published:
        REPUBLISHED.inc(published)
        log.info("ledger_republished", facts=published)
    return published
