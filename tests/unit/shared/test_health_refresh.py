"""A /metrics scrape refreshes the readiness gauges without waiting for slow checks:
the first scrape waits (so the gauges exist), later ones start a run beside them."""

from __future__ import annotations

import asyncio

from services.shared.metrics import WORKER_READY
from services.shared.ops import Health


async def test_the_first_refresh_waits_for_the_checks_later_ones_do_not() -> None:
    release = asyncio.Event()
    runs = 0

    async def slow() -> bool:
        nonlocal runs
        runs += 1
        if runs > 1:
            await release.wait()
        return True

    health = Health("refresh-test", check_timeout=30)
    health.add_check("slow", slow)
    await health.refresh()
    assert runs == 1
    assert WORKER_READY.labels("refresh-test")._value.get() == 1
    # The second run is held: the scrape returns at once, and a third starts no other run.
    await asyncio.wait_for(health.refresh(), timeout=1)
    await asyncio.sleep(0)
    await asyncio.wait_for(health.refresh(), timeout=1)
    await asyncio.sleep(0)
    assert runs == 2
    release.set()
    await asyncio.sleep(0.01)
    await health.refresh()
    await asyncio.sleep(0.01)
    assert runs == 3
