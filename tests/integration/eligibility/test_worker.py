"""The eligibility worker against the real broker: a few hundred sellers with shuffled,
redelivered and corrected events over two months, a kill -9 between ingest and tick,
and the statuses checked one by one against the test's own oracle."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from schemas.seller import SellerStatusChanged
from services.eligibility.topics import TOPICS
from services.shared import groups
from services.shared.codec import decode
from services.shared.kafka import new_producer
from services.shared.lag import consumer_lag
from services.shared.settings import Settings
from services.shared.worker_process import WorkerProcess
from tests.integration.eligibility import oracle
from tests.integration.eligibility.marketplace import MONTHS, Seller, marketplace, tick
from tests.integration.kafka_io import read_records, read_until_idle

SELLERS = 240
TOPIC_OF = {
    "SellerMetricsReported": "crm.seller-metrics",
    "MessageDelivered": "crm.chat-engagement",
    "MessageRead": "crm.chat-engagement",
    "ShopBlocked": "crm.shop-blocks",
    "EvaluationDue": "crm.evaluation-ticks",
    "AppealSubmitted": "crm.appeals",
    "AppealDecided": "crm.appeals",
}


async def _publish(settings: Settings, events: list[dict[str, Any]]) -> None:
    producer = new_producer(settings)
    await producer.start()
    try:
        futures = []
        for e in events:
            key = e.get("seller_id") or e["market"]
            value = json.dumps(e).encode()
            futures.append(
                await producer.send(
                    settings.topic(TOPIC_OF[e["event_type"]]), value, key=key.encode()
                )
            )
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def _caught_up(settings: Settings, group: str, timeout: float = 120.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        rows = await consumer_lag(settings, [group])
        if rows and all(r.lag == 0 for r in rows):
            return
        await asyncio.sleep(1)
    raise TimeoutError(f"group {group} still lags: {[r.as_dict() for r in rows if r.lag]}")


def _statuses(records: list[Any]) -> list[SellerStatusChanged]:
    out = []
    for r in records:
        event = decode("crm.seller-status", r.value)
        assert isinstance(event, SellerStatusChanged)
        assert r.key == event.seller_id.encode()
        out.append(event)
    return out


def _check(status: SellerStatusChanged, expected: oracle.Expected) -> None:
    got = oracle.Expected(status.access, status.eligible, status.level, status.weekly_quota)
    assert got == expected, f"{status.seller_id} {status.effective_month}: {got} != {expected}"
    assert len(status.criteria) == 3
    assert status.policy_version


async def test_two_months_of_a_marketplace_decided_like_the_oracle(
    settings: Settings, topics: Callable[..., Any], tmp_path: Path
) -> None:
    await topics(*TOPICS)
    sellers = marketplace(SELLERS)
    events = [e for s in sellers for e in s.metrics + s.engagement]
    random.Random(5).shuffle(events)
    worker = WorkerProcess(
        "eligibility",
        settings,
        tmp_path / "worker.log",
        CRM_ELIGIBILITY_DATA_DIR=str(tmp_path / "data"),
        CRM_ELIGIBILITY_SCHEDULER="false",
    )
    group = groups.eligibility(settings)
    worker.start()
    try:
        await worker.wait_ready()
        await _publish(settings, events)
        await _caught_up(settings, group)
        worker.kill9()  # between ingest and tick: the state must come back as it was
        worker.start()
        await worker.wait_ready()

        expected = {
            s.seller_id: oracle.decide_months(s.market, s.metrics, s.engagement, MONTHS)
            for s in sellers
        }
        july = [tick(m, "2024-07", datetime(2024, 7, 1, tzinfo=UTC)) for m in ("TH", "US")]
        await _publish(settings, july)
        first = _statuses(
            await read_records(settings, "crm.seller-status", count=SELLERS, wait_ms=60_000)
        )
        august = [tick(m, "2024-08", datetime(2024, 8, 1, tzinfo=UTC)) for m in ("TH", "US")]
        await _publish(settings, august)
        both = _statuses(
            await read_records(settings, "crm.seller-status", count=2 * SELLERS, wait_ms=60_000)
        )

        assert {s.seller_id for s in first} == set(expected)
        by_month = {(s.seller_id, s.effective_month): s for s in both}
        assert len(by_month) == 2 * SELLERS
        for seller_id, months in expected.items():
            for month, exp in months.items():
                _check(by_month[(seller_id, month)], exp)
        # Every outcome shows up, or the oracle comparison proves little.
        accesses = {s.access for s in both}
        assert accesses == {"active", "suspended", "not_enrolled"}
        assert {s.level for s in both if s.level} >= {1, 2, 3}

        # The same tick again: nothing new.
        await _publish(
            settings, [tick(m, "2024-08", datetime(2024, 8, 2, tzinfo=UTC)) for m in ("TH", "US")]
        )
        await _caught_up(settings, group)
        assert len(await read_until_idle(settings, "crm.seller-status")) == 2 * SELLERS

        # A late correction flips one seller; re-ticking revises exactly that one.
        target = _eligible_in_august(sellers, expected)
        last_day = max(
            e["metrics_date"] for e in target.metrics if e["metrics_date"] >= "2024-06-22"
        )
        correction = {
            **next(e for e in target.metrics if e["metrics_date"] == last_day),
            "event_id": "00000000-0000-4000-8000-000000000001",
            "occurred_at": "2024-07-30T00:00:00+00:00",
            "violation_points": 40,
        }
        target.metrics.append(correction)
        await _publish(settings, [correction])
        await _publish(settings, [tick(target.market, "2024-08", datetime(2024, 8, 3, tzinfo=UTC))])
        after = _statuses(
            await read_records(settings, "crm.seller-status", count=2 * SELLERS + 1, wait_ms=60_000)
        )
        revised = (
            after[-1]
            if after[-1].seller_id == target.seller_id
            else next(s for s in after if s.reason == "revised_evaluation")
        )
        assert revised.seller_id == target.seller_id
        assert revised.reason == "revised_evaluation"
        _check(
            revised,
            oracle.decide_months(target.market, target.metrics, target.engagement, MONTHS)[
                "2024-08"
            ],
        )
        await _caught_up(settings, group)
        assert len(await read_until_idle(settings, "crm.seller-status")) == 2 * SELLERS + 1
    finally:
        worker.stop()


def _eligible_in_august(
    sellers: list[Seller], expected: dict[str, dict[str, oracle.Expected]]
) -> Seller:
    return next(
        s
        for s in sellers
        if expected[s.seller_id]["2024-08"].eligible
        and any(e["metrics_date"] >= "2024-06-22" for e in s.metrics)
    )
