"""De-duplication on event_id and no poison pill (SPEC section 6): an exact redelivery
changes nothing, a conflicting duplicate is dead-lettered, and a record the handler can
never get past is dead-lettered after the bounded retries while the worker goes on."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from schemas.dead_letter import DeadLetter
from schemas.seller import SellerStatusChanged
from services.eligibility.domain.calendar import month_at
from services.eligibility.topics import TOPICS
from services.shared import groups
from services.shared.codec import decode
from services.shared.settings import Settings
from services.shared.worker_process import WorkerProcess
from tests.integration.eligibility.marketplace import tick
from tests.integration.eligibility.test_scheduler_and_refusals import _metrics
from tests.integration.eligibility.test_worker import _caught_up, _publish
from tests.integration.kafka_io import read_records, read_until_idle


async def test_duplicates_are_skipped_or_dead_lettered_and_a_poison_pill_is_passed(
    settings: Settings, topics: Callable[..., Any], tmp_path: Path
) -> None:
    await topics(*TOPICS)
    month = month_at(datetime.now(UTC), "TH")
    poison_id = str(uuid.uuid4())
    worker = WorkerProcess(
        "eligibility",
        settings,
        tmp_path / "w.log",
        CRM_ELIGIBILITY_SCHEDULER="false",
        CRM_ELIGIBILITY_DATA_DIR=str(tmp_path / "data"),
        CRM_ELIGIBILITY_FAIL_ON_EVENT=poison_id,
        CRM_HANDLER_ATTEMPTS="2",
    )
    worker.start()
    try:
        port = await worker.wait_ready()
        good = _metrics("dup-seller", 95, month)
        # Same event_id, other content: it would make the seller not_enrolled if applied.
        conflicting = {**good, "chats_responded_12h": 50}
        poison = {**_metrics("poison-seller", 95, month), "event_id": poison_id}
        await _publish(settings, [good, good, conflicting, poison])
        letters = [
            decode("crm.dead-letters", r.value)
            for r in await read_records(settings, "crm.dead-letters", count=2)
        ]
        assert all(isinstance(d, DeadLetter) for d in letters)
        errors = sorted(d.error for d in letters)  # type: ignore[union-attr]
        assert errors[0].startswith(f"event_id: {good['event_id']} was already applied"), errors
        assert "conflicting duplicate" in errors[0]
        assert errors[1].startswith("unhandled InjectedFailure after 2 attempts: "), errors
        # Offsets committed past the poison pill; the worker alive and ready.
        await _caught_up(settings, groups.eligibility(settings))
        assert worker.process.poll() is None
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{port}/readyz") as response,
        ):
            assert response.status == 200

        await _publish(settings, [tick("TH", month, datetime.now(UTC))])
        [status] = [
            decode("crm.seller-status", r.value)
            for r in await read_records(settings, "crm.seller-status", count=1)
        ]
        assert isinstance(status, SellerStatusChanged)
        # Decided on the first record alone: the repeat and the conflict changed nothing.
        assert (status.seller_id, status.access) == ("dup-seller", "active")
        assert len(await read_until_idle(settings, "crm.seller-status", idle_ms=1500)) == 1
        assert len(await read_until_idle(settings, "crm.dead-letters", idle_ms=1500)) == 2
    finally:
        worker.stop()
