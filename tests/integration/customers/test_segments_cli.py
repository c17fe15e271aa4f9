"""`crm segments recompute` as an operator runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from services.shared.settings import Settings
from tests.integration.customers.segment_support import D, crafted_histories, fill, idn, shop
from tests.unit.customers import builders as b


def _crm(settings: Settings, redis_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CRM_REDIS_URL": redis_url, "CRM_TOPIC_PREFIX": settings.topic_prefix}
    crm = Path(sys.executable).with_name("crm")
    return subprocess.run(
        [str(crm), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


async def test_one_seller_as_of_a_given_day(
    settings: Settings, redis_url: str, test_id: str
) -> None:
    seller = f"s-{test_id}"
    async with shop(settings, redis_url) as s:
        await fill(s.store, seller, crafted_histories())
        done = _crm(
            settings,
            redis_url,
            "segments",
            "recompute",
            "--seller",
            seller,
            "--as-of",
            D.isoformat(),
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert seller in done.stdout
        assert "cart_abandoners 1" in done.stdout
        as_of, sizes = await s.store.sizes(seller)
        assert as_of == D
        assert sizes["followers_not_purchased"] == 3


async def test_every_seller_reports_those_without_a_market(
    settings: Settings, redis_url: str, test_id: str
) -> None:
    placed, unplaced = f"s-{test_id}", f"u-{test_id}"
    async with shop(settings, redis_url) as s:
        await fill(s.store, placed, crafted_histories())
        await fill(s.store, unplaced, {"c1": [b.followed(idn("2024-05-01"))]}, market=None)
        done = _crm(settings, redis_url, "segments", "recompute", "--as-of", D.isoformat())
        assert done.returncode == 1, done.stderr[-2000:]
        assert f"skipped {unplaced}: no_market" in done.stdout
        assert await s.store.latest_as_of(placed) == D
        assert await s.store.latest_as_of(unplaced) is None


async def test_a_bad_date_is_refused(settings: Settings, redis_url: str) -> None:
    done = _crm(settings, redis_url, "segments", "recompute", "--as-of", "03/07/2024")
    assert done.returncode == 2
    assert "is not a date YYYY-MM-DD" in done.stderr
