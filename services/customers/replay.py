"""`crm replay`, customers part: refold the customer topics into the store and recompute
the memberships, through the projection's guard (services/customers/healing.py).

Folding is idempotent and order-independent, so replaying over what Redis still holds
repairs it without a reset, and the replay may run beside `crm worker customers`: with
the marker dropped, the worker's next batch waits for the rebuild's new marker.
"""

from __future__ import annotations

from collections.abc import Callable

from services.customers.healing import customers_guard
from services.customers.store import customers_redis
from services.shared.clock import utc_now
from services.shared.settings import Settings

Progress = Callable[[str, int, int], None]


async def rebuild_customers(settings: Settings, progress: Progress | None = None) -> int:
    """Fold every record of the customer topics; returns how many were folded."""
    redis = customers_redis(settings)
    try:
        return await customers_guard(settings, redis, utc_now).rebuild(progress)
    finally:
        await redis.aclose()
