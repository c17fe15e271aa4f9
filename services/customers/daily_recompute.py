"""The daily recompute (SPEC section 5): at 00:00 in each market, that market's sellers
are recomputed as of the day that begins, so sizes read during the day are "as of
yesterday". At start, and every 15 minutes in between (a seller whose market arrives
late), every seller whose memberships lag today in its market catches up.

All are "bring the sellers of a market up to today": a seller already as of today is
left alone, so a run that failed half-way is retried for the sellers it missed only.
The clock is injected: tests move it across midnights; `nap_seconds` bounds each wait so
a clock that jumps is noticed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import timedelta

import structlog

from schemas.markets import MARKET_TIME_ZONES
from services.customers.definitions import SegmentDefinitions
from services.customers.domain.recompute_days import behind, local_today, next_local_midnight
from services.customers.recompute import Recompute, SellerRecomputed
from services.customers.segment_metrics import DAILY_RUN_SECONDS, DAILY_RUNS
from services.customers.store import RedisCustomerStore
from services.shared.clock import Clock
from services.shared.settings import Settings

log = structlog.get_logger(__name__)

NAP_SECONDS = 60.0
# After a failed run (Redis away, say), the market is tried again this much later.
RETRY_AFTER = timedelta(minutes=1)
# Between midnights, sellers still behind today are looked for this often: a seller whose
# market (its first metrics report or status) arrives after the start would otherwise
# wait for midnight.
# Cheap when none lags: one GET per seller of the market.
SWEEP_EVERY = timedelta(minutes=15)


class DailyRecompute:
    def __init__(
        self,
        settings: Settings,
        store: RedisCustomerStore,
        definitions: SegmentDefinitions,
        clock: Clock,
        *,
        nap_seconds: float = NAP_SECONDS,
        sweep_every: timedelta = SWEEP_EVERY,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.nap_seconds = nap_seconds
        self.sweep_every = sweep_every
        self.recompute = Recompute(store, definitions, clock)

    async def run(self, stopping: asyncio.Event) -> None:
        """Catch up, then recompute each market at its midnights (and sweep for sellers
        still behind in between) until `stopping`."""
        start = self.clock()
        due = dict.fromkeys(MARKET_TIME_ZONES, start)
        midnight = {market: next_local_midnight(market, start) for market in MARKET_TIME_ZONES}
        retrying: set[str] = set()
        try:
            await self.report_sellers_without_market()
        except Exception:
            log.exception("segments_unplaced_report_failed")
        while not stopping.is_set():
            now = self.clock()
            for market, at in due.items():
                if stopping.is_set() or now < at:
                    continue
                if now >= midnight[market]:
                    trigger = "midnight"
                elif market in retrying:
                    trigger = "retry"
                else:
                    trigger = "catch_up"
                try:
                    await self.bring_up_to_date(market, trigger)
                except Exception:
                    log.exception("segments_daily_failed", market=market, trigger=trigger)
                    DAILY_RUNS.labels(market=market, trigger="failed").inc()
                    due[market] = self.clock() + RETRY_AFTER
                    retrying.add(market)
                else:
                    retrying.discard(market)
                    midnight[market] = next_local_midnight(market, now)
                    due[market] = min(midnight[market], now + self.sweep_every)
            wait = (min(due.values()) - self.clock()).total_seconds()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), max(0.0, min(wait, self.nap_seconds)))

    async def bring_up_to_date(self, market: str, trigger: str) -> list[SellerRecomputed]:
        """Recompute, as of today in `market`, every seller of it not already as of today."""
        started = time.perf_counter()
        today = local_today(market, self.clock())
        sellers = await self.recompute.sellers_of(market)
        lagging = [s for s in sorted(sellers) if behind(await self.store.latest_as_of(s), today)]
        done = await self.recompute.sellers(lagging, today) if lagging else []
        seconds = time.perf_counter() - started
        DAILY_RUNS.labels(market=market, trigger=trigger).inc()
        DAILY_RUN_SECONDS.labels(market=market, trigger=trigger).observe(seconds)
        # A sweep that found nobody behind is routine: logged only when debugging.
        report = log.info if done or trigger == "midnight" else log.debug
        report(
            "segments_daily_run",
            market=market,
            trigger=trigger,
            as_of=today.isoformat(),
            sellers=len(sellers),
            recomputed=len(done),
            customers=sum(d.customers for d in done),
            seconds=round(seconds, 3),
        )
        return done

    async def report_sellers_without_market(self) -> list[str]:
        """Sellers with customers but no known market cannot be given a calendar: each is
        logged and counted (crm_segment_recomputes_total{outcome="no_market"}) once at start."""
        markets = await self.store.markets()
        unplaced = sorted(
            s for s in await self.store.sellers() if markets.get(s) not in MARKET_TIME_ZONES
        )
        if unplaced:
            await self.recompute.sellers(unplaced)
        return unplaced
