"""No record stops a service (SPEC section 6), shown on the whole pipeline as processes.

A year-1 and a year-9999 copy of every event of every topic the services read from
outside (SPEC "in" topics, and crm.seller-status which three services read), a bad
domain time (delivered_at, read_at, clicked_at) and a mis-keyed copy, each followed by
the valid example: every worker stays alive, each bad record is dead-lettered by every
service that reads its topic, with the reason, and every consumer group commits past
the valid records behind them.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from schemas.dead_letter import DeadLetter
from schemas.topics import ALL_TOPICS
from services.shared.codec import decode
from services.shared.kafka import new_producer
from services.shared.lag import consumer_lag
from services.shared.settings import Settings
from tests.conftest import REPO_ROOT, SHARED
from tests.e2e.pipeline import eventually, running_pipeline
from tests.integration.kafka_io import read_until_idle

# Which services read each topic (the dead letter names its service).
READERS = {
    "crm.seller-metrics": {"eligibility"},
    "crm.chat-engagement": {"eligibility", "customers", "delivery"},
    "crm.shop-blocks": {"eligibility", "delivery"},
    "crm.customer-activity": {"customers", "delivery"},
    "crm.customer-profiles": {"customers"},
    "crm.seller-accounts": {"outreach", "delivery"},
    "crm.evaluation-ticks": {"eligibility"},
    "crm.appeals": {"eligibility", "outreach"},
    "crm.seller-status": {"quota", "outreach", "customers"},
    "crm.campaigns": {"outreach"},
}
YEAR_1 = "0001-01-01T00:00:00+00:00"
YEAR_9999 = "9999-12-31T23:59:59-14:00"
DOMAIN_TIMES = ("delivered_at", "read_at", "clicked_at")


def _examples() -> list[dict[str, Any]]:
    lines = (SHARED / "examples" / "events.jsonl").read_text().splitlines()
    # Events the SPEC's example file does not have yet, from this repository's own.
    lines += (REPO_ROOT / "schemas" / "examples" / "campaigns.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if json.loads(line)["topic"] in READERS]


def _copy(example: dict[str, Any], **fields: Any) -> dict[str, Any]:
    value = {**example["value"], "event_id": str(uuid.uuid4()), **fields}
    return {**example, "value": value}


def _bad_and_good(example: dict[str, Any]) -> list[tuple[dict[str, Any], str | None]]:
    """(record, a fragment of the reason it is refused for, or None for a valid one)."""
    records: list[tuple[dict[str, Any], str | None]] = [
        (_copy(example, occurred_at=YEAR_1), "occurred_at: 0001-01-01T00:00:00+00:00 is before"),
        (_copy(example, occurred_at=YEAR_9999), "occurred_at: 9999-12-31T23:59:59-14:00 is more"),
        ({**_copy(example), "key": "not-the-key"}, "key: must be the"),
    ]
    for name in DOMAIN_TIMES:
        if name in example["value"]:
            records.append((_copy(example, **{name: YEAR_9999}), f"{name}: 9999-12-31"))
            records.append((_copy(example, **{name: YEAR_1}), f"{name}: 0001-01-01"))
    records.append((_copy(example), None))
    return records


async def test_implausible_and_mis_keyed_records_are_dead_lettered_and_nothing_stops(
    settings: Settings, topics: Callable[..., Any], redis_url: str, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"redis_url": redis_url})
    await topics(*(spec.name for spec in ALL_TOPICS))
    sent: dict[tuple[str, int, int], str] = {}  # (topic, partition, offset) → reason
    async with running_pipeline(settings, tmp_path) as pipeline:
        producer = new_producer(settings)
        await producer.start()
        try:
            for example in _examples():
                for record, reason in _bad_and_good(example):
                    meta = await producer.send_and_wait(
                        settings.topic(record["topic"]),
                        json.dumps(record["value"]).encode(),
                        key=record["key"].encode(),
                    )
                    if reason is not None:
                        sent[(record["topic"], meta.partition, meta.offset)] = reason
        finally:
            await producer.stop()

        expected = {
            (topic, partition, offset, service): reason
            for (topic, partition, offset), reason in sent.items()
            for service in READERS[topic]
        }
        letters: dict[tuple[str, int, int, str], str] = {}

        async def all_dead_lettered() -> bool:
            for record in await read_until_idle(settings, "crm.dead-letters", idle_ms=1000):
                letter = decode("crm.dead-letters", record.value)
                assert isinstance(letter, DeadLetter)
                topic = settings.logical_topic(letter.source_topic)
                letters[(topic, letter.partition, letter.offset, letter.service)] = letter.error
            return expected.keys() <= letters.keys()

        assert await eventually(all_dead_lettered, timeout=120), sorted(
            set(expected) - set(letters)
        )[:10]
        wrong = {
            where: (reason, letters[where])
            for where, reason in expected.items()
            if reason not in letters[where]
        }
        assert not wrong, wrong

        # Every group read past the valid records behind the bad ones and committed.
        behind: dict[str, int] = defaultdict(int)

        async def caught_up() -> bool:
            behind.clear()
            rows = await consumer_lag(settings, topic_prefix=settings.topic_prefix)
            for row in rows:
                if settings.logical_topic(row.topic) in READERS and row.lag:
                    behind[f"{row.group} {row.topic}"] += row.lag
            return bool(rows) and not behind

        assert await eventually(caught_up, timeout=120), dict(behind)
        for name, process in pipeline.processes.items():
            assert process.process is not None
            assert process.process.poll() is None, f"{name} died:\n{pipeline.log_tail(name)}"
        for process in pipeline.processes.values():
            await process.wait_ready(timeout=30)
