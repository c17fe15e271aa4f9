"""Two customers processes fold the same (seller, customer) pair at once: its activity
comes on crm.customer-activity (keyed by seller) to one process, the message sent to the
customer on crm.outbound-messages (keyed by customer) to another. Whichever writes last,
the stored relationship holds both."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

import redis.asyncio as aioredis

from schemas.envelope import Event
from services.customers.definitions import SegmentDefinitions
from services.customers.projection import CustomerProjection
from services.customers.store import RedisCustomerStore, customers_prefix, customers_redis
from services.shared.settings import Settings
from tests.unit.customers import builders as b

NOW = datetime.now(UTC).replace(microsecond=0)


class _InterruptedStore(RedisCustomerStore):
    """The store of a process that is overtaken between its read and its write."""

    def __init__(self, redis: aioredis.Redis, prefix: str, overtaken_by: CustomerProjection):
        super().__init__(redis, prefix)
        self.overtaken_by = overtaken_by
        self.pending: list[Event] = []
        self.reads = 0

    async def read_relationships(
        self, customers_of: Mapping[str, Sequence[str]]
    ) -> dict[str, dict[str, bytes | None]]:
        read = await super().read_relationships(customers_of)
        self.reads += 1
        if self.pending:  # the other process folds and writes the pair right now
            events, self.pending = self.pending, []
            await self.overtaken_by.apply((n, e) for n, e in enumerate(events))
        return read


def _pair(event: Event) -> Event:
    return event.model_copy(update={"seller_id": "s1", "customer_id": "c1"})


async def test_a_pair_folded_by_two_processes_at_once_keeps_both_updates(
    settings: Settings, redis_url: str
) -> None:
    settings = settings.model_copy(update={"redis_url": redis_url})
    prefix = customers_prefix(settings)
    redis_a, redis_b = customers_redis(settings), customers_redis(settings)
    try:
        by_customer = CustomerProjection(
            RedisCustomerStore(redis_b, prefix), SegmentDefinitions(redis_b, prefix)
        )
        store_a = _InterruptedStore(redis_a, prefix, overtaken_by=by_customer)
        by_seller = CustomerProjection(store_a, SegmentDefinitions(redis_a, prefix))
        await by_seller.apply([(0, _pair(b.followed(NOW - timedelta(days=3))))])

        store_a.pending = [_pair(b.sent(NOW - timedelta(hours=2), plan="plan-a"))]
        await by_seller.apply([(1, _pair(b.cart_added(NOW - timedelta(hours=1))))])

        stored = (await store_a.load_relationships("s1", ["c1"]))["c1"]
        assert store_a.reads == 3  # the pair was read again after the other's write
        assert stored.followed_at == NOW - timedelta(days=3)
        assert stored.last_cart_add_at == NOW - timedelta(hours=1)  # this process's
        assert "plan-a" in stored.received_plans  # the other's, not written over
    finally:
        keys = [k async for k in redis_a.scan_iter(match=f"{prefix}*")]
        if keys:
            await redis_a.delete(*keys)
        await redis_a.aclose()
        await redis_b.aclose()
