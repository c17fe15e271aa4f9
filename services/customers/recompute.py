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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import redis.asyncio as aioredis
import structlog
from pydantic import ValidationError

from schemas.markets import MARKET_TIME_ZONES
from services.customers.definitions import SegmentDefinitions
from services.customers.domain.condition_fields import FIELD_KINDS
from services.customers.domain.conditions import Condition, matches_at
from services.customers.domain.cutoff import Cutoff, cutoff
from services.customers.domain.daily import local_today
from services.customers.domain.profile import Profile
from services.customers.domain.relationship import EMPTY, Relationship, from_stored_json
from services.customers.domain.segments import BuiltinTally
from services.customers.segment_metrics import (
    CUSTOMERS_JUDGED,
    SELLER_RECOMPUTE_SECONDS,
    SELLER_RECOMPUTES,
    UNDECODABLE,
)
from services.customers.store import CustomerStore, customer_store, customers_prefix
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


def needs_profiles(segments: Iterable[Sequence[Condition]]) -> bool:
    """Profiles are read only for attribute conditions (region, city, gender, ...)."""
    return any(FIELD_KINDS[c.field] == "attribute" for conditions in segments for c in conditions)


def _decoded(seller_id: str, page: list[tuple[str, bytes]]) -> Iterator[tuple[str, Relationship]]:
    """The page's relationships, decoded one at a time as they are judged: each dies
    young, so the garbage collector never walks a page's worth of models (holding whole
    decoded pages cost a third of a recompute in full collections). An entry that does
    not decode is logged and left out."""
    for customer_id, raw in page:
        try:
            rel = from_stored_json(raw)
        except ValidationError as exc:
            UNDECODABLE.inc()
            log.error(
                "relationship_undecodable",
                seller_id=seller_id,
                customer_id=customer_id,
                error=str(exc).splitlines()[0],
            )
            continue
        yield customer_id, rel


class Recompute:
    def __init__(
        self,
        store: CustomerStore,
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
            for customer_id, rel in _decoded(seller_id, page):
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


PREVIEW_PAGE = 1000
"""Smaller pages than the recompute's: a preview runs inside an API request, and each page
is judged without yielding the event loop."""


async def count_matching(
    store: CustomerStore, seller_id: str, conditions: Sequence[Condition], cut: Cutoff
) -> int:
    """How many of the seller's customers meet every condition as of the cut-off: a
    custom segment's size computed on demand (the preview), by the recompute's rule."""
    with_profiles = needs_profiles([conditions])
    count = 0
    async for page in store.scan_raw(seller_id, PREVIEW_PAGE):
        profiles = (
            await store.profiles([customer_id for customer_id, _ in page]) if with_profiles else {}
        )
        count += count_page(seller_id, page, profiles, conditions, cut)
    return count


def count_page(
    seller_id: str,
    page: list[tuple[str, bytes]],
    profiles: Mapping[str, Profile],
    conditions: Sequence[Condition],
    cut: Cutoff,
) -> int:
    """The customers of one page meeting every condition (`matches_at`).

    Conditions on profile attributes are asked first, of the profile alone: the AND fails
    whatever the relationship says when one of them does, and those customers' stored
    relationships are then never decoded (most of a preview's time). An attribute's
    measure reads only the profile, so asking them over the empty relationship is the same
    question; tests/unit/customers/test_preview.py checks the count equals `matches_at`.
    """
    on_profile = [c for c in conditions if FIELD_KINDS[c.field] == "attribute"]
    count = 0
    for customer_id, raw in page:
        profile = profiles.get(customer_id)
        if on_profile and not matches_at(on_profile, EMPTY, profile, cut):
            continue
        for _, rel in _decoded(seller_id, [(customer_id, raw)]):
            if matches_at(conditions, rel, profile, cut):
                count += 1
    return count


def recompute_for(settings: Settings, redis: aioredis.Redis, clock: Clock = utc_now) -> Recompute:
    """A Recompute over the customers store and segment definitions of `settings`."""
    store = customer_store(settings, redis)
    return Recompute(store, SegmentDefinitions(redis, customers_prefix(settings)), clock)


async def recompute_seller(
    settings: Settings, redis: aioredis.Redis, seller_id: str, as_of: date | None = None
) -> SellerRecomputed:
    """One seller as of `as_of` (default: today in its market), on a bytes client."""
    return await recompute_for(settings, redis).seller(seller_id, as_of)
