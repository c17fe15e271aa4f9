"""Exactly once under kill -9: a worker killed at random moments while it ingests a
shuffled, redelivered and corrected marketplace, or one of two workers killed while
they share the partitions, still decides every seller like the oracle, with every
tally exact (no under-count, no double count) and every status published once."""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from schemas.seller import SellerStatusChanged
from services.eligibility.topics import TOPICS
from services.policy import DEFAULT_POLICY
from services.shared import groups
from services.shared.lag import consumer_lag
from services.shared.settings import Settings
from services.shared.worker_process import CRM, WorkerProcess
from tests.integration.eligibility import oracle
from tests.integration.eligibility.marketplace import MONTHS, Seller, marketplace, tick
from tests.integration.eligibility.test_worker import _caught_up, _check, _publish, _statuses
from tests.integration.kafka_io import read_records, read_until_idle


def _shuffled_with_redeliveries(sellers: list[Seller], seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    events = [e for s in sellers for e in s.metrics + s.engagement]
    events += rng.sample(events, len(events) // 20)  # redelivered as is
    rng.shuffle(events)
    return events


async def _lag(settings: Settings) -> int:
    rows = await consumer_lag(settings, [groups.eligibility(settings)])
    return sum(r.lag for r in rows) if rows else -1


def _worker(settings: Settings, tmp_path: Path, name: str) -> WorkerProcess:
    return WorkerProcess(
        "eligibility",
        settings,
        tmp_path / f"{name}.log",
        CRM_ELIGIBILITY_SCHEDULER="false",
        CRM_LOG_LEVEL="WARNING",
    )


async def _tick_and_check(settings: Settings, sellers: list[Seller]) -> None:
    for month, at in (("2024-07", datetime(2024, 7, 1, tzinfo=UTC)), ("2024-08", None)):
        when = at or datetime(2024, 8, 1, tzinfo=UTC)
        await _publish(settings, [tick(m, month, when) for m in ("TH", "US")])
        await read_records(
            settings,
            "crm.seller-status",
            count=len(sellers) * (1 + MONTHS.index(month)),
            wait_ms=120_000,
        )
    statuses = _statuses(await read_until_idle(settings, "crm.seller-status", idle_ms=3000))
    assert len(statuses) == 2 * len(sellers), "every status is published exactly once"
    by_month = {(s.seller_id, s.effective_month): s for s in statuses}
    assert len(by_month) == 2 * len(sellers)
    for seller in sellers:
        expected = oracle.decide_months(seller.market, seller.metrics, seller.engagement, MONTHS)
        for month, exp in expected.items():
            status = by_month[(seller.seller_id, month)]
            _check(status, exp)
            _check_tally(status, seller)


def _check_tally(status: SellerStatusChanged, seller: Seller) -> None:
    counts = oracle.engagement(seller.engagement, seller.market, status.effective_month)
    if status.performance is None:
        # Only when nothing at all was delivered, read or blocked in the window.
        assert counts == (0, 0, 0), f"{status.seller_id}: no tally, oracle {counts}"
        return
    perf = status.performance
    got = (perf.delivered, perf.read, perf.blocked)
    assert got == counts, f"{status.seller_id} {status.effective_month}: {got} != {counts}"


async def test_kill_9_at_random_moments_during_ingest_loses_and_doubles_nothing(
    settings: Settings, topics: Callable[..., Any], tmp_path: Path
) -> None:
    await topics(*TOPICS)
    sellers = marketplace(1150, seed=23)
    events = _shuffled_with_redeliveries(sellers, seed=29)
    assert len(events) >= 200_000, len(events)
    await _publish(settings, events)
    rng = random.Random(31)
    # Kill at random points of the ingest's progress, not after random sleeps: how
    # fast the worker ingests must not decide how many kills the test makes.
    marks = [rng.uniform(0.1 + 0.2 * i, 0.25 + 0.2 * i) for i in range(4)]
    worker = _worker(settings, tmp_path, "worker")
    kills = 0
    try:
        worker.start()
        await worker.wait_ready(timeout=120)
        while kills < len(marks):
            lag = await _lag(settings)
            if lag == 0:
                break
            if 0 < lag <= len(events) * (1 - marks[kills]):
                worker.kill9()
                kills += 1
                worker.start()
                await worker.wait_ready(timeout=120)
            else:
                await asyncio.sleep(0.05)
        assert kills >= 3, f"ingest ended after {kills} kills: not a test of kills"
        await _caught_up(settings, groups.eligibility(settings), timeout=600)
        await _tick_and_check(settings, sellers)
    finally:
        worker.stop()


async def test_two_workers_share_the_partitions_and_survive_losing_one(
    settings: Settings, topics: Callable[..., Any], tmp_path: Path
) -> None:
    await topics(*TOPICS)
    sellers = marketplace(400, seed=37)
    events = _shuffled_with_redeliveries(sellers, seed=41)
    first, second = _worker(settings, tmp_path, "first"), _worker(settings, tmp_path, "second")
    try:
        first.start()
        second.start()
        await asyncio.gather(first.wait_ready(timeout=120), second.wait_ready(timeout=120))
        # Both own partitions now (ready means assigned and restored): publish, and
        # kill the first while the events are still arriving.
        publishing = asyncio.create_task(_publish(settings, events))
        await asyncio.sleep(1.0)
        assert not publishing.done(), "ingest was over before the kill"
        first.kill9()  # its partitions go to the second worker
        await publishing
        await _caught_up(settings, groups.eligibility(settings), timeout=600)
        first.start()  # and come back: both decide their own partitions' sellers
        await first.wait_ready(timeout=120)
        await _tick_and_check(settings, sellers)
        _what_if_nobody_passes_ses(settings, sellers, tmp_path)
    finally:
        first.stop()
        second.stop()


def _what_if_nobody_passes_ses(settings: Settings, sellers: list[Seller], tmp_path: Path) -> None:
    """`crm policy simulate` from the committed state: with an SES threshold nobody
    meets, exactly the sellers active in August would lose access; nothing published."""
    candidate = tmp_path / "candidate.toml"
    candidate.write_text(
        re.sub(
            r"(?m)^version = .*$",
            'version = "what-if"',
            DEFAULT_POLICY.read_text().replace("ses_min = 3.5", "ses_min = 5.0"),
        )
    )
    result = subprocess.run(
        [
            str(CRM),
            "policy",
            "simulate",
            "--policy",
            str(candidate),
            "--market",
            "TH",
            "--month",
            "2024-08",
            "--json",
            "--sellers",
        ],
        env={
            **os.environ,
            "CRM_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
            "CRM_TOPIC_PREFIX": settings.topic_prefix,
        },
        capture_output=True,
        check=True,
        timeout=300,
    )
    report = json.loads(result.stdout)
    thai = [s for s in sellers if s.market == "TH"]
    active = {
        s.seller_id
        for s in thai
        if oracle.decide_months(s.market, s.metrics, s.engagement, MONTHS)["2024-08"].access
        == "active"
    }
    assert report["sellers"] == len(thai)
    assert report["candidate"] == "what-if"
    assert report["access_changes"] == len(active)
    assert {c["seller_id"] for c in report["changed_sellers"]} == active
    assert sum(n for row in report["transitions"].values() for n in row.values()) == len(thai)
