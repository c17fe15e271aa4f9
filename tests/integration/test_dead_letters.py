"""Bad records go to crm.dead-letters with their reason; the valid ones around them flow."""

from __future__ import annotations

import asyncio
import json

from schemas.dead_letter import DeadLetter
from services.shared.codec import decode
from services.shared.consumer import DeadLetteringConsumer, Record, Rejected
from services.shared.kafka import new_producer
from services.shared.settings import Settings
from tests.integration.kafka_io import read_records
from tests.malformed import CASES, metrics


async def test_each_malformed_record_is_dead_lettered_and_valid_ones_processed(
    settings: Settings,
    topics,
    group_id: str,  # type: ignore[no-untyped-def]
) -> None:
    await topics("crm.seller-metrics", "crm.dead-letters", partitions=1)
    source = settings.topic("crm.seller-metrics")
    valid_ids = []
    producer = new_producer(settings, max_request_size=4 * 1024 * 1024)
    await producer.start()
    offsets = {}
    for case in CASES:
        good = metrics()
        valid_ids.append(good["event_id"])
        await producer.send_and_wait(source, json.dumps(good).encode(), key=b"seller-th-001")
        meta = await producer.send_and_wait(source, case.raw, key=b"seller-th-001")
        offsets[meta.offset] = case
    # A valid event a handler refuses is dead-lettered too.
    refused = metrics(seller_id="seller-unknown")
    meta = await producer.send_and_wait(source, json.dumps(refused).encode(), key=b"seller-unknown")
    await producer.stop()

    handled: list[str] = []

    async def handler(event, record: Record) -> None:  # type: ignore[no-untyped-def]
        if event.seller_id == "seller-unknown":
            raise Rejected("unknown seller seller-unknown")
        handled.append(str(event.event_id))

    worker = DeadLetteringConsumer(
        settings, service="test", topics=["crm.seller-metrics"], group_id=group_id, handler=handler
    )
    stopping = asyncio.Event()
    task = asyncio.create_task(worker.run(stopping))
    records = await read_records(settings, "crm.dead-letters", count=len(CASES) + 1)
    assert worker.ready, "a worker holding its partitions reports ready"
    stopping.set()
    await asyncio.wait_for(task, 30)

    letters = {}
    for record in records:
        letter = decode("crm.dead-letters", record.value)
        assert isinstance(letter, DeadLetter)
        letters[letter.offset] = letter
    assert handled == valid_ids, "valid events must all be handled, in order, exactly once"
    for offset, case in offsets.items():
        letter = letters[offset]
        assert letter.source_topic == source
        assert letter.partition == 0
        assert letter.service == "test"
        assert case.reason.lower() in letter.error.lower(), (case.name, letter.error)
        if case.raw is not None and case.line:
            assert letter.raw.encode()[:1000] == case.raw[:1000]
    assert "unknown seller" in letters[meta.offset].error
    assert len(letters) == len(CASES) + 1
