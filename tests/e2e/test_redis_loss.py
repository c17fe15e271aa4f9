"""End to end, every service its own process: Redis loses everything between two plans
(FLUSHALL), nobody does anything, and the next plans go exactly where they would have
gone: to the same followers, never to one who blocked the shop, and a third plan of the
week is stopped by the frequency cap. The quota counted before the loss still counts.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from schemas.engagement import ShopBlocked
from schemas.topics import ALL_TOPICS
from services.eligibility.domain.calendar import add_months, month_at, window
from services.shared import groups
from services.shared.settings import Settings
from tests.e2e.pipeline import running_pipeline
from tests.e2e.test_loop import (
    BANGKOK,
    CUSTOMERS,
    _customers,
    _metrics,
    _outbound,
    _segment_ready,
    _send_now_plan,
    _tick,
)

BLOCKERS = 5


def _blocked(seller: str, customer: str) -> ShopBlocked:
    return ShopBlocked(
        event_id=uuid.uuid4(),
        occurred_at=datetime.now(UTC),
        seller_id=seller,
        customer_id=customer,
        message_id=None,
    )


async def test_after_redis_lost_everything_plans_go_where_they_would_have(
    settings: Settings, topics: Callable[..., Any], redis_url: str, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"redis_url": redis_url})
    await topics(*(spec.name for spec in ALL_TOPICS))
    now = datetime.now(UTC)
    this_month = month_at(now, "TH")
    last_month = add_months(this_month, -1)
    seller = f"loss-{uuid.uuid4().hex[:8]}"
    today = now.astimezone(BANGKOK).date()
    everyone = {f"{seller}-c{n:04d}" for n in range(CUSTOMERS)}
    blockers = {f"{seller}-c{n:04d}" for n in range(BLOCKERS)}

    async with running_pipeline(settings, tmp_path) as pipeline:
        await pipeline.publish(
            [
                _metrics(seller, window(last_month)[0] + timedelta(days=2)),
                _metrics(seller, window(this_month)[0] + timedelta(days=2)),
            ]
        )
        await pipeline.caught_up("eligibility")
        await pipeline.publish([_tick(last_month)])
        await pipeline.status(seller, last_month)
        owner = pipeline.owner(seller)
        await pipeline.until("/v1/shop/status", owner, lambda b: b["access"] == "active")
        await pipeline.publish(_customers(seller, now))
        await pipeline.publish([_blocked(seller, c) for c in sorted(blockers)])
        await _segment_ready(settings, seller, today)
        await pipeline.caught_up("delivery", groups.delivery_blocks)

        first = (await _send_now_plan(pipeline, seller))["plan_id"]
        reached = {m.customer_id for m in await _outbound(settings, first, CUSTOMERS - BLOCKERS)}
        assert reached == everyone - blockers
        await pipeline.until(f"/v1/plans/{first}", owner, lambda b: b["status"] == "completed")

        client = aioredis.Redis.from_url(redis_url)
        try:
            await client.flushall()
        finally:
            await client.aclose()

        # Nobody acts. The quota still counts the first plan (rebuilt from the ledger).
        await pipeline.until("/v1/shop/status", owner, lambda b: b["quota_used"] == 1)
        second = (await _send_now_plan(pipeline, seller))["plan_id"]
        messages = await _outbound(settings, second, CUSTOMERS - BLOCKERS)
        assert Counter(m.customer_id for m in messages) == dict.fromkeys(reached, 1), (
            "the plan after the loss must reach exactly the non-blockers the first reached"
        )
        done = await pipeline.until(
            f"/v1/plans/{second}", owner, lambda b: b["status"] == "completed", timeout=120
        )
        assert (done["recipients"], done["sent"]) == (CUSTOMERS, CUSTOMERS - BLOCKERS)
        assert done["suppressed"]["blocked"] == BLOCKERS

        # Two messages this week already: the third plan is capped for everyone.
        third = (await _send_now_plan(pipeline, seller))["plan_id"]
        capped = await pipeline.until(
            f"/v1/plans/{third}", owner, lambda b: b["status"] == "completed", timeout=120
        )
        assert capped["sent"] == 0
        assert capped["suppressed"]["blocked"] == BLOCKERS
        assert capped["suppressed"]["frequency_capped"] == CUSTOMERS - BLOCKERS
        assert await _outbound(settings, third, 0) == []
        shop = await pipeline.http.get("/v1/shop/status", headers=owner)
        assert shop.json()["quota_used"] == 3
