"""`crm demo`: what the platform does so far, end to end on the local stack.

1. the topic registry; 2. `publish` validating events; 3. a buggy upstream writing
raw bad records, dead-lettered with reasons while valid ones flow; 4. consumer lag.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from aiokafka import TopicPartition
from rich.console import Console
from rich.table import Table

from demo.kit import caught_up
from schemas.dead_letter import DeadLetter
from schemas.topics import topic as registry_topic
from services.shared.codec import decode
from services.shared.consumer import DeadLetteringConsumer, Record
from services.shared.kafka import create_topics, new_consumer, new_producer, wait_for_kafka
from services.shared.lag import consumer_lag
from services.shared.publish import parse_lines
from services.shared.settings import Settings


def _metrics(seller: str, day: str, received: int, responded: int, ses: Any) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": "SellerMetricsReported",
        "schema_version": 1,
        "occurred_at": f"{day}T02:00:00+07:00",
        "seller_id": seller,
        "market": "TH",
        "metrics_date": day,
        "chats_received": received,
        "chats_responded_12h": responded,
        "ses": ses,
        "violation_points": 1,
        "extra": {},
    }


async def run_demo(settings: Settings, out: Console) -> None:
    await wait_for_kafka(settings)
    await create_topics(settings)
    out.rule("1. the topic registry")
    from services.cli import topics_list

    topics_list()

    out.rule("2. crm publish validates every line before anything is sent")
    valid = [
        json.dumps(_metrics("seller-demo-1", "2024-06-01", 120, 111, 4.2)),
        json.dumps(
            {
                "topic": "crm.evaluation-ticks",
                "key": "TH",
                "value": {
                    "event_id": str(uuid.uuid4()),
                    "event_type": "EvaluationDue",
                    "schema_version": 1,
                    "occurred_at": datetime.now(UTC).isoformat(),
                    "market": "TH",
                    "effective_month": "2024-07",
                },
            }
        ),
    ]
    bad = [
        json.dumps(_metrics("seller-demo-2", "2024-06-01", 100, 120, 4.0)),
        json.dumps(_metrics("seller-demo-3", "2024-06-31", 10, 5, 7)),
        json.dumps(
            {
                **_metrics("seller-demo-4", "2024-06-01", 10, 5, 4.0),
                "occurred_at": "9999-12-31T23:59:59-14:00",
            }
        ),
    ]
    good, errors = parse_lines(valid + bad, max_bytes=settings.max_event_bytes)
    out.print(f"{len(good)} valid lines; refused:")
    for e in errors:
        out.print(f"  [red]✗[/red] {e}")
    out.print("→ a file with refused lines sends nothing (unless --skip-invalid)")

    out.rule("3. bad records written straight to Kafka go to crm.dead-letters")
    topic = settings.topic("crm.seller-metrics")
    records = [
        json.dumps(_metrics("seller-demo-1", "2024-06-02", 90, 88, 4.4)).encode(),
        b"{not json",
        json.dumps(_metrics("seller-demo-1", "2024-06-03", 70, 80, 4.1)).encode(),
        json.dumps(
            {
                **_metrics("seller-demo-1", "2024-06-04", 5, 5, 4.0),
                "event_type": "SellerMetricsReportd",
            }
        ).encode(),
        json.dumps(
            {
                **_metrics("seller-demo-1", "2024-06-05", 64, 60, 3.9),
                "occurred_at": "0001-01-01T00:00:00Z",
            }
        ).encode(),
        json.dumps(_metrics("seller-demo-1", "2024-06-05", 64, 60, 3.9)).encode(),
    ]
    producer = new_producer(settings)
    await producer.start()
    for value in records:
        await producer.send_and_wait(topic, value, key=b"seller-demo-1")
    await producer.stop()
    out.print(f"wrote {len(records)} raw records to {topic} (2 valid, 4 bad)")

    handled: list[str] = []

    async def handler(event: Any, record: Record) -> None:
        handled.append(
            f"{record.topic}@{record.partition}:{record.offset} {event.event_type} "
            f"{getattr(event, 'metrics_date', '')}"
        )

    group = f"crm-demo-{uuid.uuid4().hex[:6]}"
    worker = DeadLetteringConsumer(
        settings, service="demo", topics=["crm.seller-metrics"], group_id=group, handler=handler
    )
    stopping = asyncio.Event()
    task = asyncio.create_task(worker.run(stopping))
    await caught_up(settings, group)
    stopping.set()
    await task
    out.print(
        f"consumer group {group} handled {len(handled)} valid events "
        "(everything in the topic so far, including earlier demo runs):"
    )
    for line in handled[-3:]:
        out.print(f"  [green]✓[/green] {line}")
    await _print_dead_letters(
        settings, out, since_ms=int(datetime.now(UTC).timestamp() * 1000) - 60_000
    )
    await _dead_letter_actions(settings, out)

    out.rule("4. crm lag")
    rows = await consumer_lag(settings, [group])
    table = Table("group", "topic", "partition", "committed", "end", "lag")
    for r in rows:
        table.add_row(r.group, r.topic, str(r.partition), str(r.committed), str(r.end), str(r.lag))
    out.print(table)

    # Each service's chapter, in pipeline order.
    from services import registry

    for number, (title, module) in enumerate(registry.demo_chapters(), start=5):
        out.rule(f"{number}. {title}")
        await module.run(settings, out)


async def _dead_letter_actions(settings: Settings, out: Console) -> None:
    """What `crm dead-letters list --since 1m` and `redrive` (a dry run) say about them."""
    from services.ops import dead_letters as dl

    since = dl.parse_since("1m", datetime.now(UTC))
    recent = dl.select(await dl.load_letters(settings), settings, since=since)
    grouped = ", ".join(f"{r} ({s}) {n}" for (r, s), n in dl.counts(recent).most_common())
    out.print(f"crm dead-letters list --since 1m → by reason: {grouped}")
    verdicts = await dl.redrive(settings, recent, apply=False, now=datetime.now(UTC))
    ready = sum(v.outcome == "redrive" for v in verdicts)
    out.print(
        f"crm dead-letters redrive (dry run) → {ready} would be re-driven, "
        f"{len(verdicts) - ready} still fail validation or were re-driven before"
    )


async def _print_dead_letters(settings: Settings, out: Console, since_ms: int) -> None:
    letters: list[DeadLetter] = []
    consumer = new_consumer(settings)
    await consumer.start()
    try:
        topic = settings.topic("crm.dead-letters")
        count = registry_topic("crm.dead-letters").partitions
        partitions = [TopicPartition(topic, p) for p in range(count)]
        consumer.assign(partitions)
        found = await consumer.offsets_for_times({tp: since_ms for tp in partitions})
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            at = found.get(tp)
            consumer.seek(tp, at.offset if at else ends[tp])
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                for record in records:
                    letter = decode("crm.dead-letters", record.value)
                    if isinstance(letter, DeadLetter):
                        letters.append(letter)
    finally:
        await consumer.stop()
    out.print("dead letters from this run:")
    for letter in letters[-5:]:
        where = f"{letter.source_topic}@{letter.partition}:{letter.offset}"
        out.print(f"  [red]✗[/red] {where} {letter.error}")
