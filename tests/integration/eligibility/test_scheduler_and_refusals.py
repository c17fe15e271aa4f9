"""The scheduler's ticks survive restarts harmlessly; refused input is dead-lettered
or counted, and the worker goes on."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from schemas.dead_letter import DeadLetter
from schemas.seller import EvaluationDue, SellerStatusChanged
from services.eligibility.domain.calendar import add_months, month_at, window
from services.eligibility.topics import TOPICS
from services.shared import groups
from services.shared.codec import decode
from services.shared.kafka import new_producer
from services.shared.settings import Settings
from services.shared.worker_process import WorkerProcess
from tests.integration.eligibility.test_worker import _caught_up, _publish
from tests.integration.kafka_io import read_records, read_until_idle


def _metrics(seller: str, responded: int, month: str) -> dict[str, Any]:
    day = window(month)[0] + timedelta(days=1)
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": "SellerMetricsReported",
        "schema_version": 1,
        "occurred_at": datetime.now(UTC).isoformat(),
        "seller_id": seller,
        "market": "TH",
        "metrics_date": day.isoformat(),
        "chats_received": 100,
        "chats_responded_12h": responded,
        "ses": 4.0,
        "violation_points": 0,
        "extra": {},
    }


async def test_scheduled_ticks_decide_once_and_restarts_do_no_harm(
    settings: Settings, topics: Callable[..., Any], tmp_path: Path
) -> None:
    await topics(*TOPICS)
    month = month_at(datetime.now(UTC), "TH")
    await _publish(
        settings, [_metrics("good-seller", 95, month), _metrics("slow-seller", 50, month)]
    )
    group = groups.eligibility(settings)
    common = {"CRM_ELIGIBILITY_DATA_DIR": str(tmp_path / "data")}
    quiet = WorkerProcess(
        "eligibility", settings, tmp_path / "w.log", CRM_ELIGIBILITY_SCHEDULER="false", **common
    )
    quiet.start()
    try:
        await quiet.wait_ready()
        await _caught_up(settings, group)
    finally:
        quiet.stop()

    scheduling = WorkerProcess(
        "eligibility",
        settings,
        tmp_path / "w.log",
        CRM_ELIGIBILITY_SCHEDULER_INTERVAL_SECONDS="1",
        **common,
    )
    for _round in range(2):  # the second start emits the month's ticks again
        scheduling.start()
        try:
            await scheduling.wait_ready()
            ticks = [
                decode("crm.evaluation-ticks", r.value)
                for r in await read_records(
                    settings, "crm.evaluation-ticks", count=8 * (_round + 1)
                )
            ]
            assert all(isinstance(t, EvaluationDue) for t in ticks)
            assert len({t.market for t in ticks}) == 8  # type: ignore[union-attr]
            await _caught_up(settings, group)
        finally:
            scheduling.stop()
        statuses = [
            decode("crm.seller-status", r.value)
            for r in await read_until_idle(settings, "crm.seller-status")
        ]
        assert all(isinstance(s, SellerStatusChanged) for s in statuses)
        assert {(s.seller_id, s.access, s.effective_month) for s in statuses} == {  # type: ignore[union-attr]
            ("good-seller", "active", month),
            ("slow-seller", "not_enrolled", month),
        }
        assert len(statuses) == 2, "a repeated tick must not publish unchanged decisions"


async def test_refused_input_is_dead_lettered_or_counted_and_the_worker_goes_on(
    settings: Settings, topics: Callable[..., Any], tmp_path: Path
) -> None:
    await topics(*TOPICS)
    month = month_at(datetime.now(UTC), "TH")
    worker = WorkerProcess(
        "eligibility",
        settings,
        tmp_path / "w.log",
        CRM_ELIGIBILITY_SCHEDULER="false",
        CRM_ELIGIBILITY_DATA_DIR=str(tmp_path / "data"),
    )
    worker.start()
    try:
        port = await worker.wait_ready()
        await _publish(settings, [_metrics("seller-a", 95, month)])
        await _caught_up(settings, groups.eligibility(settings))
        not_yet = add_months(month, 2)  # its window closes next month
        appeal = {
            "event_id": str(uuid.uuid4()),
            "event_type": "AppealSubmitted",
            "schema_version": 1,
            "occurred_at": datetime.now(UTC).isoformat(),
            "appeal_id": "ap-1",
            "seller_id": "seller-a",
            "account_id": "owner",
            "text": "please",
        }
        moved = {**_metrics("seller-a", 95, month), "market": "US"}
        tick = {
            "event_id": str(uuid.uuid4()),
            "event_type": "EvaluationDue",
            "schema_version": 1,
            "occurred_at": datetime.now(UTC).isoformat(),
            "market": "TH",
            "effective_month": not_yet,
        }
        await _publish(settings, [appeal, moved, tick])
        producer = new_producer(settings)
        await producer.start()
        await producer.send_and_wait(
            settings.topic("crm.seller-metrics"), b"{not json", key=b"seller-a"
        )
        # The worker's own internal topic is no exception: a bad command is dead-lettered.
        await producer.send_and_wait(
            settings.topic("crm.eligibility-evaluations"), b'{"market": "TH"}', partition=0
        )
        await producer.stop()
        letters = [
            decode("crm.dead-letters", r.value)
            for r in await read_records(settings, "crm.dead-letters", count=4)
        ]
        errors = sorted(d.error for d in letters if isinstance(d, DeadLetter))
        assert any("only a suspended seller may appeal" in e for e in errors), errors
        assert any("belongs to market TH, not US" in e for e in errors), errors
        assert any("JSON" in e or "json" in e for e in errors), errors
        assert any(e.startswith("not an EvaluatePartition: Field required") for e in errors), errors
        # The tick before its window closed is refused and counted, not dead-lettered.
        await _caught_up(settings, groups.eligibility(settings))
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{port}/metrics") as response,
        ):
            text = await response.text()
        assert 'crm_eligibility_ticks_total{market="TH",outcome="refused"} 1.0' in text
        assert await read_until_idle(settings, "crm.seller-status", idle_ms=1500) == []
        # And the worker still decides: a proper tick now.
        ok = {**tick, "event_id": str(uuid.uuid4()), "effective_month": month}
        await _publish(settings, [ok])
        [status] = [
            decode("crm.seller-status", r.value)
            for r in await read_records(settings, "crm.seller-status", count=1)
        ]
        assert isinstance(status, SellerStatusChanged)
        assert (status.seller_id, status.access) == ("seller-a", "active")
    finally:
        worker.stop()
