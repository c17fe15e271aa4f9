"""Segment memberships as of day D: one seller, a market, or every seller.

For one seller: read its relationships page by page (one HSCAN round trip per page),
judge each customer once against the seven built-in segments and every live custom one
as of D 00:00 in the seller's market, then write the day's memberships; `as_of` moves to
D only after they are all written. Profiles are fetched (one HMGET per page) only when a
custom segment has an attribute condition. The rules are the domain's: `BuiltinTally`
and `matches_at`.

Many sellers are recomputed a few at a time, so one seller's Redis round trips overlap
another's judging. A seller without a known market is skipped and reported; a stored
relationship that does not decode is left out of every segment, counted
(crm_segment_undecodable_total) and logged, and the rest of the seller is recomputed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date

import redis.asyncio as aioredis
import structlog

from schemas.markets import MARKET_TIME_ZONES
from services.customers.definitions import SegmentDefinitions
from services.customers.domain.conditions import Condition, matches_at
from services.customers.domain.cutoff import cutoff
from services.customers.domain.profile import Profile
from services.customers.domain.recompute_days import local_today
from services.customers.domain.segments import BuiltinTally
from services.customers.matching import PREVIEW_PAGE as PREVIEW_PAGE
from services.customers.matching import count_matching as count_matching
from services.customers.matching import count_page as count_page
from services.customers.matching import decoded, needs_profiles
from services.customers.segment_metrics import (
    CUSTOMERS_JUDGED,
    SELLER_RECOMPUTE_SECONDS,
    SELLER_RECOMPUTES,
)
from services.customers.store import RedisCustomerStore, customer_store
from services.shared.clock import Clock, utc_now
from services.shared.settings import Settings

log = structlog.get_logger(__name__)


# Sellers judged at once: enough that Redis round trips overlap judging on two cores,
# few enough that memberships held in memory stay small.
CONCURRENCY = 4

NO_MARKET = "no_market"
UNKNOWN_MARKET = "unknown_market"
# Memberships as of a day that has not begun would miss that day's events, and `as_of`
# never moves back: the daily recompute would leave the seller alone until then.
FUTURE_DAY = "as_of_in_the_future"


@dataclass(frozen=True)
class SellerRecomputed:
    """What one seller's recompute did: `sizes` as of `as_of`, or why it was skipped."""

    seller_id: str
    market: str | None
    as_of: date | None
    customers: int = 0
    sizes: dict[str, int] = field(default_factory=dict)
    skipped: str | None = None
    """no_market (no metrics report or status seen yet), unknown_market or as_of_in_the_future."""
    seconds: float = 0.0


Progress = Callable[[int, int, SellerRecomputed], None]
"""(sellers done, sellers in all, the one just done)."""


@dataclass(frozen=True)
class CustomSegment:
    segment_id: str
    conditions: list[Condition]


class Recompute:
    def __init__(
        self,
        store: RedisCustomerStore,
        definitions: SegmentDefinitions,
        clock: Clock,
        *,
        concurrency: int = CONCURRENCY,
    ) -> None:
        self.store = store
        self.definitions = definitions
        self.clock = clock
        self.concurrency = concurrency

    async def seller(self, seller_id: str, as_of: date | None = None) -> SellerRecomputed:
        """Recompute one seller as of `as_of` (default: today in its market)."""
        started = time.perf_counter()
        market = await self.store.market(seller_id)
        if market is None or market not in MARKET_TIME_ZONES:
            skipped = NO_MARKET if market is None else UNKNOWN_MARKET
            log.warning("segments_recompute_skipped", seller_id=seller_id, reason=skipped)
            SELLER_RECOMPUTES.labels(market=market or "", outcome=skipped).inc()
            return SellerRecomputed(seller_id, market, None, skipped=skipped)
        today = local_today(market, self.clock())
        day = as_of or today
        if day > today:
            log.warning("segments_recompute_skipped", seller_id=seller_id, reason=FUTURE_DAY)
            SELLER_RECOMPUTES.labels(market=market, outcome=FUTURE_DAY).inc()
            return SellerRecomputed(seller_id, market, None, skipped=FUTURE_DAY)
        cut = cutoff(day, market)
        customs = [
            CustomSegment(d.segment_id, d.domain_conditions())
            for d in await self.definitions.live(seller_id)
        ]
        builtins = BuiltinTally(cut)
        custom_members: dict[str, set[str]] = {c.segment_id: set() for c in customs}
        with_profiles = needs_profiles(c.conditions for c in customs)
        customers = 0
        async for page in self.store.scan_raw(seller_id):
            profiles = await self._profiles(page) if with_profiles else {}
            for customer_id, rel in decoded(seller_id, page):
                customers += 1
                builtins.add(customer_id, rel)
                profile = profiles.get(customer_id)
                for custom in customs:
                    if matches_at(custom.conditions, rel, profile, cut):
                        custom_members[custom.segment_id].add(customer_id)
        members = dict(custom_members)
        for segment_id, found in builtins.members().items():
            members[segment_id] = found
        sizes = await self.store.write_memberships(
            seller_id, day, members, builtins.high_value_threshold()
        )
        seconds = time.perf_counter() - started
        SELLER_RECOMPUTES.labels(market=market, outcome="recomputed").inc()
        SELLER_RECOMPUTE_SECONDS.labels(market=market).observe(seconds)
        CUSTOMERS_JUDGED.labels(market=market).inc(customers)
        return SellerRecomputed(seller_id, market, day, customers, sizes, seconds=seconds)

    async def _profiles(self, page: list[tuple[str, bytes]]) -> dict[str, Profile]:
        return await self.store.profiles([customer_id for customer_id, _ in page])

    async def sellers(
        self,
        seller_ids: Iterable[str],
        as_of: date | None = None,
        progress: Progress | None = None,
    ) -> list[SellerRecomputed]:
        """Recompute these sellers, `concurrency` at a time, each as of `as_of` (default:
        today in its own market). A seller that fails is logged and the others go on;
        the first failure is raised once all have been tried."""
        listed = sorted(set(seller_ids))
        gate = asyncio.Semaphore(self.concurrency)
        done: list[SellerRecomputed] = []
        failures: list[BaseException] = []

        async def one(seller_id: str) -> None:
            async with gate:
                try:
                    outcome = await self.seller(seller_id, as_of)
                except Exception as exc:
                    log.exception("segments_recompute_failed", seller_id=seller_id)
                    SELLER_RECOMPUTES.labels(market="", outcome="failed").inc()
                    failures.append(exc)
                    return
            done.append(outcome)
            if progress is not None:
                progress(len(done), len(listed), outcome)

        await asyncio.gather(*(one(seller_id) for seller_id in listed))
        if failures:
            raise failures[0]
        return done

    async def market(
        self, market: str, as_of: date | None = None, progress: Progress | None = None
    ) -> list[SellerRecomputed]:
        """Every seller of the market (customers or not: a shop without any gets sizes 0)."""
        return await self.sellers(await self.sellers_of(market), as_of, progress)

    async def everyone(
        self, as_of: date | None = None, progress: Progress | None = None
    ) -> list[SellerRecomputed]:
        """Every seller with customers or a known market; those without a market are
        skipped and reported."""
        markets = await self.store.markets()
        return await self.sellers({*markets, *await self.store.sellers()}, as_of, progress)

    async def sellers_of(self, market: str) -> set[str]:
        markets = await self.store.markets()
        return {seller for seller, known in markets.items() if known == market}


def recompute_for(settings: Settings, redis: aioredis.Redis, clock: Clock = utc_now) -> Recompute:
    """A Recompute over the customers store and segment definitions of `settings`."""
    store = customer_store(settings, redis)
    return Recompute(store, store.definitions, clock)


async def recompute_seller(
    settings: Settings, redis: aioredis.Redis, seller_id: str, as_of: date | None = None
) -> SellerRecomputed:
    """One seller as of `as_of` (default: today in its market), on a bytes client."""
    return await recompute_for(settings, redis).seller(seller_id, as_of)
