"""Which custom segments a seller has now, as outreach asks it of customers' segment
definitions (the store the API and the customers worker write from crm.segments)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from services.customers.port import CustomerStore

LiveSegments = Callable[[str], Awaitable[frozenset[str]]]


def live_segment_ids(customers: CustomerStore) -> LiveSegments:
    """The seller's live custom segment ids; built-in ones always exist and are not listed."""

    async def live(seller_id: str) -> frozenset[str]:
        return frozenset(d.segment_id for d in await customers.live_segments(seller_id))

    return live
