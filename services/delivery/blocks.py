"""Who currently blocks which shop: a projection of crm.shop-blocks into one Redis set
per seller, asked for a page of recipients at a time.

At-least-once is exact here: a batch is folded to each pair's last event before it is
written, and a redelivered batch (the one whose offsets did not commit) ends in the
same state.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import redis.asyncio as aioredis

from schemas.engagement import ShopBlocked, ShopUnblocked
from schemas.envelope import Event
from services.delivery.keys import DeliveryKeys
from services.shared.consumer import DeadLetteringConsumer, Record
from services.shared.projection_guard import ProjectionGuard
from services.shared.settings import Settings

TOPICS = ("crm.shop-blocks",)


class BlockList:
    def __init__(self, redis: aioredis.Redis, keys: DeliveryKeys) -> None:
        self.redis = redis
        self.keys = keys

    async def apply(self, latest: dict[tuple[str, str], bool]) -> None:
        """Write each (seller, customer) pair's latest state: blocked or not."""
        if not latest:
            return
        # One SADD and one SREM per seller: each pair is in one of them only, so the
        # order between pairs does not matter (a refold writes 100,000s of pairs).
        added: dict[str, list[str]] = defaultdict(list)
        removed: dict[str, list[str]] = defaultdict(list)
        for (seller_id, customer_id), blocked in latest.items():
            (added if blocked else removed)[seller_id].append(customer_id)
        pipe = self.redis.pipeline(transaction=False)
        for seller_id, customers in added.items():
            pipe.sadd(self.keys.blocked(seller_id), *customers)
        for seller_id, customers in removed.items():
            pipe.srem(self.keys.blocked(seller_id), *customers)
        await pipe.execute()

    async def blocked(self, seller_id: str, customer_ids: Sequence[str]) -> list[bool]:
        """Whether each customer blocks the shop. A seller's block list is small beside a
        fan-out's page (most customers never block): its size is asked first, and a list
        no longer than the page is read whole and looked up here, rather than sending
        Redis every id of the page."""
        if not customer_ids:
            return []
        key = self.keys.blocked(seller_id)
        size = await self.redis.scard(key)
        if size == 0:
            return [False] * len(customer_ids)
        if size <= len(customer_ids):
            stored = await self.redis.smembers(key)
            blocking = {m.decode() if isinstance(m, bytes) else m for m in stored}
            return [c in blocking for c in customer_ids]
        found = await self.redis.smismember(key, list(customer_ids))
        return [bool(f) for f in found]


class BlockProjection:
    """Handler and flush for a DeadLetteringConsumer of crm.shop-blocks; with a guard,
    a block list Redis lost is refolded before the next batch is written."""

    def __init__(self, blocks: BlockList, guard: ProjectionGuard | None = None) -> None:
        self.blocks = blocks
        self.guard = guard
        self._latest: dict[tuple[str, str], bool] = {}

    async def handle(self, event: Event, record: Record) -> None:
        if isinstance(event, ShopBlocked | ShopUnblocked):
            pair = (event.seller_id, event.customer_id)
            self._latest.pop(pair, None)  # keep log order: the latest event last
            self._latest[pair] = isinstance(event, ShopBlocked)

    async def flush(self) -> None:
        if self.guard is not None:
            await self.guard.ensure()
        latest, self._latest = self._latest, {}
        await self.blocks.apply(latest)


def block_consumer(
    settings: Settings,
    blocks: BlockList,
    group_id: str,
    guard: ProjectionGuard | None = None,
) -> DeadLetteringConsumer:
    projection = BlockProjection(blocks, guard)
    return DeadLetteringConsumer(
        settings,
        service="delivery",
        topics=TOPICS,
        group_id=group_id,
        handler=projection.handle,
        flush=projection.flush,
        max_records=5000,
    )
