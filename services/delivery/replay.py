"""`crm replay`, delivery part: refold every delivery projection on demand (beside live
workers: they wait for the new markers), through the guards of healing.py. The frequency
cap's sent history is quota's, refolded by quota's part."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from services.customers.port import customer_store, customers_guard
from services.delivery.blocks import BlockList
from services.delivery.healing import (
    blocks_guard,
    messaged_guard,
    performance_guard,
    shop_names_guard,
)
from services.delivery.keys import DeliveryKeys, delivery_prefix
from services.delivery.performance.store import PerformanceStore, performance_prefix
from services.delivery.shops import ShopNames
from services.shared.redis_packing import bytes_redis
from services.shared.replay import Progress
from services.shared.settings import Settings


async def rebuild_delivery(
    settings: Settings, clock: Callable[[], datetime], progress: Progress | None = None
) -> dict[str, int]:
    """Events folded, per projection."""
    redis = bytes_redis(settings)
    try:
        keys = DeliveryKeys(delivery_prefix(settings))
        performance = PerformanceStore(
            redis, performance_prefix(settings), customer_store(settings, redis)
        )
        guards = [
            blocks_guard(settings, BlockList(redis, keys)),
            shop_names_guard(settings, ShopNames(redis, keys)),
            messaged_guard(settings, redis, keys),
            performance_guard(settings, performance, customers_guard(settings, redis, clock)),
        ]
        return {guard.name: await guard.rebuild(progress) for guard in guards}
    finally:
        await redis.aclose()
