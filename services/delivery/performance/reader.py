"""What the API shows of the performance figures: one plan's, one segment's (summed over
the plans that targeted it, live or as a daily snapshot as of yesterday) and the overview
of a range of market-local days."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import redis.asyncio as aioredis

from services.customers.port import customer_store
from services.delivery.domain.attribution import local_day, market_zone
from services.delivery.domain.performance import (
    PlanFigures,
    figures_from_stored,
    overview_of,
    snapshot_of,
    total,
)
from services.delivery.performance.store import DAY_TTL, PerformanceStore, performance_prefix
from services.shared.settings import Settings

MAX_OVERVIEW_DAYS = 366
# A snapshot adds up every day bucket still kept (400 reads and every plan's fields: about
# 20 ms for a new shop, 170 ms for 100 plans over 90 days), so a day's sums are cached a
# while; a late event of that day shows once the cache expires.
SNAPSHOT_DAYS = DAY_TTL.days
SNAPSHOT_CACHE = timedelta(minutes=15)


def no_segment_figures() -> dict[str, Any]:
    """A segment's figures when no plan that targeted it had any: zeros."""
    return {**PlanFigures().model_dump(), "plans": 0}


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

    async def segment_snapshots(
        self, seller_id: str, now: datetime
    ) -> tuple[date, dict[str, dict[str, Any]]]:
        """Each segment's figures as of yesterday in the seller's market (UTC while the
        market is unknown): `as_of`, and segment → figures over the day buckets up to and
        including that day. Computed on demand from the buckets, so the snapshot of a day
        is the same whenever it is read (a late event of that day counts when it comes,
        once the cached sums expire).
        A segment no plan targeted by then is absent: see `no_segment_figures`."""
        (market,) = (await self.store.markets([seller_id])).values()
        as_of = local_day(now, market) - timedelta(days=1)
        cached = await self.store.cached_snapshots(seller_id, as_of)
        if cached is not None:
            return as_of, cached
        days = [as_of - timedelta(days=n) for n in range(SNAPSHOT_DAYS)]
        buckets = await self.store.days(seller_id, days)
        snapshots = snapshot_of(buckets, await self.store.plan_segments(seller_id))
        figures = {
            segment: {**snapshot.figures.model_dump(), "plans": snapshot.plans}
            for segment, snapshot in snapshots.items()
        }
        await self.store.cache_snapshots(seller_id, as_of, figures, SNAPSHOT_CACHE)
        return as_of, figures

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
    customers = customer_store(settings, redis)
    return PerformanceReader(PerformanceStore(redis, performance_prefix(settings), customers))
