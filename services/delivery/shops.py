"""Each shop's name, for `{shop_name}`: a projection of ShopProfileUpdated from
crm.seller-accounts into one Redis string per seller, read once per plan rendered.

The topic is keyed by seller_id, so a seller's profiles arrive in order; a batch is
folded to each seller's last name before it is written, and a redelivered batch (the one
whose offsets did not commit) ends in the same state. Permission events on the topic are
outreach's and pass by.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from schemas.envelope import Event
from schemas.seller import ShopProfileUpdated
from services.delivery.keys import DeliveryKeys
from services.shared.consumer import DeadLetteringConsumer, Record, Rejected
from services.shared.settings import Settings

TOPICS = ("crm.seller-accounts",)


class ShopNames:
    def __init__(self, redis: aioredis.Redis, keys: DeliveryKeys) -> None:
        self.redis = redis
        self.keys = keys

    async def apply(self, latest: dict[str, str]) -> None:
        if not latest:
            return
        pipe = self.redis.pipeline(transaction=False)
        for seller_id, shop_name in latest.items():
            pipe.set(self.keys.shop_name(seller_id), shop_name)
        await pipe.execute()

    async def name(self, seller_id: str) -> str | None:
        """The shop's latest name, None while no ShopProfileUpdated has been seen."""
        stored = await self.redis.get(self.keys.shop_name(seller_id))
        if stored is None:
            return None
        return stored.decode() if isinstance(stored, bytes) else str(stored)


class ShopNameProjection:
    """Handler and flush for a DeadLetteringConsumer of crm.seller-accounts."""

    def __init__(self, names: ShopNames) -> None:
        self.names = names
        self._latest: dict[str, str] = {}

    async def handle(self, event: Event, record: Record) -> None:
        if not isinstance(event, ShopProfileUpdated):
            return
        key = record.key.decode(errors="replace") if record.key is not None else None
        if key != event.seller_id:
            # Only the key keeps a seller's profiles in order (one partition).
            raise Rejected(f"key: must be the seller_id {event.seller_id!r}, got {key!r}")
        self._latest[event.seller_id] = event.shop_name

    async def flush(self) -> None:
        latest, self._latest = self._latest, {}
        await self.names.apply(latest)


def shop_name_consumer(
    settings: Settings, names: ShopNames, group_id: str
) -> DeadLetteringConsumer:
    projection = ShopNameProjection(names)
    return DeadLetteringConsumer(
        settings,
        service="delivery",
        topics=TOPICS,
        group_id=group_id,
        handler=projection.handle,
        flush=projection.flush,
        max_records=5000,
    )
