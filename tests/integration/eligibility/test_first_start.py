"""A first start on a broker where none of the worker's topics exist yet (a newcomer's
machine): the worker creates them, faust's internal ones included, and waits until the
cluster's metadata has them before it consumes. Without that its consumer saw a topic
created after it subscribed only at the next metadata refresh, 5 minutes later, and the
month's first tick went undecided that long."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.eligibility.topics import TOPICS
from services.shared.kafka import admin_client
from services.shared.settings import Settings
from services.shared.worker_process import WorkerProcess
from tests.integration.eligibility.marketplace import marketplace, tick
from tests.integration.eligibility.test_worker import _publish, _statuses
from tests.integration.kafka_io import read_records


def _event(line: str) -> dict[str, Any]:
    try:
        parsed = json.loads(line)
    except ValueError:
        return {}  # faust's own lines are not JSON
    return parsed if isinstance(parsed, dict) else {}


SELLERS = 9
# Far below the 5-minute metadata refresh the first tick used to wait for.
DECIDED_WITHIN_MS = 60_000


async def test_a_worker_started_before_its_topics_exist_decides_the_first_tick(
    settings: Settings, topics: Callable[..., Any], tmp_path: Path
) -> None:
    # `topics` only to delete this test's topics afterwards: none is created beforehand.
    async with admin_client(settings) as client:
        assert not [t for t in await client.list_topics() if t.startswith(settings.topic_prefix)]
    worker = WorkerProcess(
        "eligibility",
        settings,
        tmp_path / "worker.log",
        CRM_ELIGIBILITY_DATA_DIR=str(tmp_path / "data"),
        CRM_ELIGIBILITY_SCHEDULER="false",
    )
    worker.start()
    try:
        await worker.wait_ready()
        async with admin_client(settings) as client:
            present = set(await client.list_topics())
        assert {settings.topic(name) for name in TOPICS} <= present
        # Every one of them was there before faust's consumer subscribed: whether a
        # topic created later is seen in time is a race, lost on a fresh broker.
        lines = worker.log().decode(errors="replace").splitlines()
        ready = [i for i, line in enumerate(lines) if _event(line).get("event") == "topics_ready"]
        subscribed = [i for i, line in enumerate(lines) if "Updating subscribed topics" in line]
        assert ready
        assert subscribed
        assert ready[0] < subscribed[0]
        assert _event(lines[ready[0]])["topics"] == len(TOPICS)

        sellers = marketplace(SELLERS)
        await _publish(settings, [e for s in sellers for e in s.metrics + s.engagement])
        await _publish(
            settings, [tick(m, "2024-07", datetime(2024, 7, 1, tzinfo=UTC)) for m in ("TH", "US")]
        )
        decided = _statuses(
            await read_records(
                settings, "crm.seller-status", count=SELLERS, wait_ms=DECIDED_WITHIN_MS
            )
        )

        log_tail = worker.log()[-3000:].decode(errors="replace")
        assert {s.seller_id for s in decided} == {s.seller_id for s in sellers}, log_tail
        assert b"not found in cluster metadata" not in worker.log()
    finally:
        worker.stop()
