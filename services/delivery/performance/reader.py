"""What the API shows of the performance figures: one plan's, one segment's (summed over
the plans that targeted it) and the overview of a range of market-local days."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import redis.asyncio as aioredis

from services.customers.store import CustomerStore, customers_prefix
from services.delivery.domain.attribution import market_zone
from services.delivery.domain.performance import figures_from_stored, overview_of, total
from services.delivery.performance.store import PerformanceStore, performance_prefix
from services.shared.settings import Settings

MAX_OVERVIEW_DAYS = 366


class PerformanceReader:
    def __init__(self, store: PerformanceStore) -> None:
        self.store = store

    async def plan(self, seller_id: str, plan_id: str) -> dict[str, Any] | None:
        """The plan's figures, or None before anything was dispatched or engaged."""
        (stored,) = await self.store.plan_figures(seller_id, [plan_id])
        return figures_from_stored(stored).model_dump() if stored else None

    async def segment(self, seller_id: str, segment_id: str) -> dict[str, Any] | None:
        """The figures summed over the seller's plans that targeted the segment, with
        their number; None when no plan did yet."""
        segments = await self.store.plan_segments(seller_id)
        plans = sorted(p for p, s in segments.items() if s == segment_id)
        if not plans:
            return None
        stored = await self.store.plan_figures(seller_id, plans)
        summed = total(figures_from_stored(one) for one in stored)
        return {**summed.model_dump(), "plans": len(plans)}

    async def overview(self, seller_id: str, start: date, end: date) -> dict[str, Any]:
        """The funnel and per-segment figures of the market-local days start..end
        (inclusive). Raises ValueError for a reversed or too long range."""
        if end < start:
            raise ValueError("the range ends before it starts")
        days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
        if len(days) > MAX_OVERVIEW_DAYS:
            raise ValueError(f"a range covers at most {MAX_OVERVIEW_DAYS} days")
        buckets = await self.store.days(seller_id, days)
        figures = overview_of(buckets, await self.store.plan_segments(seller_id))
        (market,) = (await self.store.markets([seller_id])).values()
        return {
            **figures.model_dump(),
            "market": market,
            "time_zone": str(market_zone(market)),
        }


def performance_reader(settings: Settings, redis: aioredis.Redis) -> PerformanceReader:
    markets_key = CustomerStore(redis, customers_prefix(settings)).markets_key
    return PerformanceReader(PerformanceStore(redis, performance_prefix(settings), markets_key))
