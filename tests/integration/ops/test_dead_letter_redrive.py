"""A record a worker dead-lettered because of a then-bug (here: an event-size limit set
too low) is re-driven once the bug is fixed, through the real customers worker, exactly
once however often `redrive --apply` runs; a record that is still bad stays put."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from schemas.customer import CustomerProfileUpdated
from schemas.dead_letter import DeadLetter
from schemas.topics import ALL_TOPICS
from services.customers.port import customer_store, customers_redis
from services.ops import dead_letters as dl
from services.shared.codec import encode
from services.shared.dead_letter_reasons import letter_reason
from services.shared.kafka import new_producer
from services.shared.settings import Settings
from services.shared.worker_process import CRM, WorkerProcess
from tests.e2e.pipeline import eventually
from tests.integration.kafka_io import read_until_idle


def _profile(customer: str, city: str) -> CustomerProfileUpdated:
    return CustomerProfileUpdated(
        event_id=uuid.uuid4(),
        occurred_at=datetime.now(UTC),
        customer_id=customer,
        region="10",
        city=city,
        gender=None,
        age_band=None,
        language="th",
    )


async def _consumed(port: int) -> float:
    """crm_events_consumed_total of CustomerProfileUpdated on the worker's /metrics."""
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/metrics") as response,
    ):
        text = await response.text()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "crm_events_consumed_total"
        and sample.labels.get("event_type") == "CustomerProfileUpdated"
    )


async def test_a_fixed_dead_letter_is_redriven_exactly_once_through_the_worker(
    settings: Settings, topics: Callable[..., Any], redis_url: str, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"redis_url": redis_url})
    await topics(*(spec.name for spec in ALL_TOPICS))
    small = _profile(f"c-small-{uuid.uuid4().hex[:6]}", "Bangkok")
    big = _profile(f"c-big-{uuid.uuid4().hex[:6]}", " ".join(["Krung Thep Maha Nakhon"] * 4))
    big_raw = encode(big)
    producer = new_producer(settings)
    await producer.start()
    source = settings.topic("crm.customer-profiles")
    for event in (small, big):
        await producer.send_and_wait(source, encode(event), key=event.customer_id.encode())
    await producer.send_and_wait(source, b"{not json", key=b"c-garbage")
    await producer.stop()

    # The then-bug: a limit below the big profile's size dead-letters it.
    too_small = str(len(big_raw) - 1)
    buggy = WorkerProcess(
        "customers", settings, tmp_path / "customers.log", CRM_MAX_EVENT_BYTES=too_small
    )
    buggy.start()
    try:
        await buggy.wait_ready(180)
        letters: list[DeadLetter] = []

        async def two_letters() -> bool:
            letters[:] = await dl.load_letters(settings)
            return len(letters) == 2

        assert await eventually(two_letters, 60), f"dead letters: {letters}"
    finally:
        assert buggy.stop() == 0, buggy.log()[-2000:].decode(errors="replace")
    assert {letter_reason(x) for x in letters} == {"too_large", "invalid_json"}

    # The fix is deployed: the default limit again.
    fixed = WorkerProcess("customers", settings, tmp_path / "customers.log")
    fixed.start()
    redis = customers_redis(settings)
    try:
        port = await fixed.wait_ready(180)
        dry = await dl.redrive(settings, letters, apply=False, now=datetime.now(UTC))
        assert sorted(v.outcome for v in dry) == ["invalid", "redrive"]
        assert len(await read_until_idle(settings, "crm.customer-profiles", idle_ms=1000)) == 3

        first = await dl.redrive(settings, letters, apply=True, now=datetime.now(UTC))
        second = await dl.redrive(settings, letters, apply=True, now=datetime.now(UTC))
        assert sorted(v.outcome for v in first) == ["invalid", "redrive"]
        assert sorted(v.outcome for v in second) == ["done", "invalid"]

        store = customer_store(settings, redis)

        async def projected() -> bool:
            return big.customer_id in await store.profiles([big.customer_id])

        assert await eventually(projected, 60), fixed.log()[-3000:].decode(errors="replace")
        records = await read_until_idle(settings, "crm.customer-profiles", idle_ms=2000)
        redriven = [r for r in records if dict(r.headers).get(dl.REDRIVE_HEADER)]
        assert [r.value for r in redriven] == [big_raw]
        assert dict(redriven[0].headers)[dl.REDRIVE_HEADER].decode() == str(
            next(x.event_id for x in letters if letter_reason(x) == "too_large")
        )
        # The restarted worker read only the re-driven record, once.
        assert await _consumed(port) == 1
        marks = await read_until_idle(settings, "crm.dead-letter-redrives", idle_ms=1000)
        assert len(marks) == 1
        await _the_command_line_says_the_same(settings, letters)
    finally:
        await redis.aclose()
        assert fixed.stop() == 0, fixed.log()[-2000:].decode(errors="replace")


def _crm(settings: Settings, *args: str) -> str:
    env = {**os.environ, "CRM_TOPIC_PREFIX": settings.topic_prefix}
    done = subprocess.run(
        [str(CRM), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


async def _the_command_line_says_the_same(settings: Settings, letters: list[DeadLetter]) -> None:
    listed = json.loads(await asyncio.to_thread(_crm, settings, "dead-letters", "list", "--json"))
    assert {(c["reason"], c["service"], c["count"]) for c in listed["counts"]} == {
        ("too_large", "customers", 1),
        ("invalid_json", "customers", 1),
    }
    fixed = next(x for x in letters if letter_reason(x) == "too_large")
    shown = json.loads(
        await asyncio.to_thread(_crm, settings, "dead-letters", "show", str(fixed.event_id)[:13])
    )
    assert (shown["offset"], shown["redrive"]["outcome"]) == (fixed.offset, "done")
    again = await asyncio.to_thread(
        _crm, settings, "dead-letters", "redrive", "--topic", "crm.customer-profiles", "--apply"
    )
    assert "0 re-driven, 1 re-driven before, 1 still invalid" in again
