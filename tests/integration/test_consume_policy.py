"""The shared consume loop under records it cannot use (SPEC section 6): a handler or a
flush that keeps failing, and event_ids seen before. Real Kafka and Redis."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiokafka import TopicPartition

from schemas.dead_letter import DeadLetter
from services.shared.codec import decode
from services.shared.consumer import DeadLetteringConsumer, Record
from services.shared.kafka import new_consumer, new_producer
from services.shared.settings import Settings
from tests.integration.kafka_io import read_records
from tests.malformed import metrics

KEY = b"seller-th-001"


async def _publish(settings: Settings, events: list[dict[str, Any]]) -> list[int]:
    producer = new_producer(settings)
    await producer.start()
    try:
        source = settings.topic("crm.seller-metrics")
        return [
            (await producer.send_and_wait(source, json.dumps(e).encode(), key=KEY)).offset
            for e in events
        ]
    finally:
        await producer.stop()


async def _committed(settings: Settings, group_id: str) -> int | None:
    consumer = new_consumer(settings, group_id=group_id)
    await consumer.start()
    try:
        return await consumer.committed(TopicPartition(settings.topic("crm.seller-metrics"), 0))
    finally:
        await consumer.stop()


async def _letters(settings: Settings, count: int) -> dict[int, DeadLetter]:
    letters = {}
    for record in await read_records(settings, "crm.dead-letters", count=count):
        letter = decode("crm.dead-letters", record.value)
        assert isinstance(letter, DeadLetter)
        letters[letter.offset] = letter
    return letters


async def _run_until(worker: DeadLetteringConsumer, done: asyncio.Event) -> None:
    stopping = asyncio.Event()
    task = asyncio.create_task(worker.run(stopping))
    try:
        await asyncio.wait_for(done.wait(), 60)
        assert not task.done(), "the worker must still be running"
        assert worker.ready
    finally:
        stopping.set()
        await asyncio.wait_for(task, 30)


async def test_a_record_the_handler_keeps_failing_on_is_dead_lettered_and_the_loop_goes_on(
    settings: Settings, topics: Any, group_id: str, redis_client: Any
) -> None:
    await topics("crm.seller-metrics", "crm.dead-letters", partitions=1)
    events = [metrics(), metrics(seller_id="seller-th-001", ses=0.5), metrics()]
    offsets = await _publish(settings, events)
    handled: list[str] = []
    calls = 0
    done = asyncio.Event()

    async def handler(event: Any, record: Record) -> None:
        nonlocal calls
        if event.ses == 0.5:
            calls += 1
            raise OverflowError("date value out of range")
        handled.append(str(event.event_id))
        if len(handled) == 2:
            done.set()

    worker = DeadLetteringConsumer(
        settings, service="test", topics=["crm.seller-metrics"], group_id=group_id, handler=handler
    )
    await _run_until(worker, done)
    [letter] = (await _letters(settings, 1)).values()
    assert letter.offset == offsets[1]
    assert letter.error == "unhandled OverflowError after 5 attempts: date value out of range"
    assert calls == 5
    assert handled == [events[0]["event_id"], events[2]["event_id"]]
    assert await _committed(settings, group_id) == offsets[-1] + 1


async def test_a_failing_flush_is_retried_one_record_at_a_time_so_only_the_culprit_goes(
    settings: Settings, topics: Any, group_id: str, redis_client: Any
) -> None:
    await topics("crm.seller-metrics", "crm.dead-letters", partitions=1)
    events = [metrics(), metrics(), metrics(ses=0.5), metrics()]
    offsets = await _publish(settings, events)
    collected: list[Any] = []
    written: list[str] = []
    done = asyncio.Event()

    async def handler(event: Any, record: Record) -> None:
        collected.append(event)

    async def flush() -> None:
        batch = list(collected)
        collected.clear()
        if any(e.ses == 0.5 for e in batch):
            raise OverflowError("date value out of range")
        written.extend(str(e.event_id) for e in batch)
        if len(written) == 3:
            done.set()

    worker = DeadLetteringConsumer(
        settings,
        service="test",
        topics=["crm.seller-metrics"],
        group_id=group_id,
        handler=handler,
        flush=flush,
    )
    await _run_until(worker, done)
    [letter] = (await _letters(settings, 1)).values()
    assert letter.offset == offsets[2]
    assert "OverflowError" in letter.error
    assert sorted(written) == sorted(str(e["event_id"]) for i, e in enumerate(events) if i != 2)
    assert await _committed(settings, group_id) == offsets[-1] + 1


async def test_the_first_record_of_an_event_id_wins_and_an_exact_repeat_is_a_no_op(
    settings: Settings, topics: Any, group_id: str, redis_client: Any
) -> None:
    await topics("crm.seller-metrics", "crm.dead-letters", partitions=1)
    first = metrics()
    conflicting = {**first, "chats_received": 999, "chats_responded_12h": 1}
    last = metrics()
    handled: list[tuple[str, int]] = []
    applied = asyncio.Event()

    async def handler(event: Any, record: Record) -> None:
        handled.append((str(event.event_id), event.chats_received))
        applied.set()

    def worker() -> DeadLetteringConsumer:
        return DeadLetteringConsumer(
            settings,
            service="test",
            topics=["crm.seller-metrics"],
            group_id=group_id,
            handler=handler,
        )

    # One batch: the first record, its exact repeat, a conflicting copy. The worker stops
    # once it has applied it (the batch's offsets are committed before it stops).
    before = await _publish(settings, [first, first, conflicting])
    await _run_until(worker(), applied)
    # After a restart, in a later batch: both copies again and a fresh event.
    applied.clear()
    after = await _publish(settings, [first, conflicting, last])
    await _run_until(worker(), applied)

    assert handled == [(first["event_id"], 120), (last["event_id"], 120)]
    letters = await _letters(settings, 2)
    assert sorted(letters) == [before[2], after[1]]
    for letter in letters.values():
        assert "already applied with other content" in letter.error
        assert first["event_id"] in letter.error
    assert await _committed(settings, group_id) == after[-1] + 1
    window = await redis_client.ttl(f"{group_id}:seen:{first['event_id']}")
    assert 0 < window <= settings.dedup_window_seconds


async def test_a_replay_skips_what_the_live_consumers_dead_letter(
    settings: Settings, topics: Any
) -> None:
    """`crm replay` decides like the live loop: an implausible time, a wrong key and a
    conflicting duplicate are skipped, an exact repeat once."""
    from services.shared.replay import replay

    await topics("crm.seller-metrics", partitions=1)
    first, fine = metrics(), metrics()
    await _publish(
        settings,
        [
            first,
            metrics(occurred_at="0001-01-01T00:00:00+00:00"),
            metrics(occurred_at="9999-12-31T23:59:59-14:00"),
            first,
            {**first, "violation_points": 9},
            fine,
        ],
    )
    producer = new_producer(settings)
    await producer.start()
    try:
        await producer.send_and_wait(
            settings.topic("crm.seller-metrics"), json.dumps(metrics()).encode(), key=b"other"
        )
    finally:
        await producer.stop()
    replayed = [(o, str(e.event_id)) async for o, e in replay(settings, "crm.seller-metrics")]
    assert replayed == [(0, first["event_id"]), (5, fine["event_id"])]
