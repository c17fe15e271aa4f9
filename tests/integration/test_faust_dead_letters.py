"""A real faust worker on Kafka 4: bad records dead-lettered, valid ones processed in order."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from aiokafka.admin import NewTopic

from schemas.dead_letter import DeadLetter
from services.shared.codec import decode
from services.shared.kafka import admin_client, new_producer
from services.shared.settings import Settings
from tests.integration.kafka_io import read_records
from tests.malformed import CASES, Case, metrics

APP = Path(__file__).with_name("faust_echo_app.py")
KEY = b"seller-th-001"  # the events' seller_id: a record keyed otherwise is dead-lettered


async def test_faust_agent_dead_letters_bad_records(
    settings: Settings,
    topics,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    await topics("crm.seller-metrics", "crm.dead-letters", partitions=1)
    async with admin_client(settings) as client:
        await client.create_topics([NewTopic(settings.topic("echo"), 1, 1)])
    bad = [
        c
        for c in CASES
        if c.name
        in {
            "not_json",
            "ses_above_5",
            "unknown_event_type",
            "not_utf8",
            "responded_over_received",
            "year_1",
            "year_9999",
        }
    ]
    # A valid event the agent's handler keeps failing on: retried, then dead-lettered.
    bad.append(
        Case(
            "handler_fails",
            json.dumps(metrics(ses=0.5)).encode(),
            "unhandled OverflowError after 5 attempts: date value out of range",
        )
    )
    # The first record of an event_id wins: another with other content is dead-lettered,
    # an exact repeat (sent after it below) is skipped silently.
    first = metrics()
    bad.append(
        Case(
            "conflicting_duplicate",
            json.dumps({**first, "violation_points": 9}).encode(),
            f"event_id: {first['event_id']} was already applied with other content",
        )
    )
    good = [first, *(metrics() for _ in range(len(bad)))]
    producer = new_producer(settings)
    await producer.start()
    for i, case in enumerate(bad):
        await producer.send_and_wait(
            settings.topic("crm.seller-metrics"), json.dumps(good[i]).encode(), key=KEY
        )
        await producer.send_and_wait(settings.topic("crm.seller-metrics"), case.raw, key=KEY)
        if i == 0:
            await producer.send_and_wait(
                settings.topic("crm.seller-metrics"), json.dumps(first).encode(), key=KEY
            )
    await producer.send_and_wait(
        settings.topic("crm.seller-metrics"), json.dumps(good[-1]).encode(), key=KEY
    )
    await producer.stop()

    env = {
        **os.environ,
        "CRM_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "CRM_TOPIC_PREFIX": settings.topic_prefix,
        "PYTHONPATH": str(APP.parents[2]),
    }
    worker = subprocess.Popen(
        [sys.executable, str(APP), "worker", "-l", "warn"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        echoed = [
            r.value for r in await read_records(settings, "echo", count=len(good), wait_ms=60_000)
        ]
        letters = [
            decode("crm.dead-letters", r.value)
            for r in await read_records(settings, "crm.dead-letters", count=len(bad))
        ]
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
    assert [json.loads(v)["event_id"] for v in echoed] == [g["event_id"] for g in good]
    assert all(isinstance(letter, DeadLetter) for letter in letters)
    for letter, case in zip(letters, bad, strict=True):
        assert isinstance(letter, DeadLetter)
        assert letter.service == "faust-echo"
        assert case.reason.lower() in letter.error.lower(), (case.name, letter.error)
