"""The daily recompute with a clock the test moves: catch-up at start, a sweep for a seller
placed later, then each market at its own 00:00, as of the day that begins."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from prometheus_client import REGISTRY

from services.customers.daily_recompute import DailyRecompute
from services.shared.settings import Settings
from tests.integration.customers.segment_support import D, crafted_histories, fill, idn, shop
from tests.integration.outreach.support import eventually
from tests.unit.customers import builders as b


def _skipped_without_market() -> float:
    labels = {"market": "", "outcome": "no_market"}
    return REGISTRY.get_sample_value("crm_segment_recomputes_total", labels) or 0.0


async def test_catch_up_then_each_market_at_its_own_midnight(
    settings: Settings, redis_url: str, test_id: str
) -> None:
    jakarta, london, unplaced = f"id-{test_id}", f"gb-{test_id}", f"none-{test_id}"
    late = f"late-{test_id}"
    async with shop(settings, redis_url) as s:
        await fill(s.store, jakarta, crafted_histories(), market="ID")
        await fill(s.store, london, {"c1": [b.followed(idn("2024-05-01"))]}, market="GB")
        await fill(s.store, unplaced, {"c1": [b.followed(idn("2024-05-01"))]}, market=None)
        await fill(s.store, late, {"c1": [b.followed(idn("2024-05-01"))]}, market=None)
        # London is already as of its today (06:00 there): the catch-up leaves it alone.
        await s.store.write_memberships(london, D, {})
        skipped_before = _skipped_without_market()
        daily = DailyRecompute(settings, s.store, s.definitions, s.clock, nap_seconds=0.02)
        stopping = asyncio.Event()
        running = asyncio.create_task(daily.run(stopping))
        try:

            async def as_of(seller: str) -> object:
                return await s.store.latest_as_of(seller)

            async def reaches(seller: str, day: object) -> bool:
                return await as_of(seller) == day

            assert await eventually(lambda: reaches(jakarta, D), timeout=10)
            assert (await s.store.sizes(jakarta))[1]["cart_abandoners"] == 1

            # A market learnt after the start: the next sweep, 15 minutes on, catches it up.
            await s.store.set_markets({late: "ID"})
            s.clock.now = idn("2024-07-03", "12:15:01")
            assert await eventually(lambda: reaches(late, D), timeout=10)

            # Midnight in Jakarta (17:00 UTC): Jakarta moves to the 4th, London does not.
            s.clock.now = idn("2024-07-04", "00:00:01")
            assert await eventually(lambda: reaches(jakarta, D + timedelta(days=1)), timeout=10)
            assert await s.store.sizes(london) == (D, {})

            # Midnight in London, six hours later (23:00 UTC in summer).
            s.clock.now = b.local("GB", "2024-07-04", "00:00:01")
            assert await eventually(lambda: reaches(london, D + timedelta(days=1)), timeout=10)
            assert (await s.store.sizes(london))[1]["followers_not_purchased"] == 1
            assert await as_of(unplaced) is None
            assert _skipped_without_market() == skipped_before + 2
        finally:
            stopping.set()
            await asyncio.wait_for(running, 10)
