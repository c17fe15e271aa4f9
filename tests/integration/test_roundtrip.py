"""Every registered event type goes through the real broker and comes back equal: SPEC
section 6's from shared/examples/events.jsonl, the plan topics' (whose fields SPEC leaves
to us) from schemas/examples/*.jsonl."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from schemas.topics import ALL_TOPICS, key_of
from services.shared.codec import decode, encode
from services.shared.kafka import new_producer
from services.shared.settings import Settings
from tests.integration.kafka_io import read_records

OUR_EXAMPLES = sorted(
    (Path(__file__).resolve().parents[2] / "schemas" / "examples").glob("*.jsonl")
)


def _normalised(value: object) -> object:
    """JSON with RFC 3339 timestamps compared as instants ('Z' and '+00:00' are one)."""
    if isinstance(value, dict):
        return {k: _normalised(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalised(v) for v in value]
    if isinstance(value, str) and len(value) > 19 and value[10:11] == "T":
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


async def test_every_example_event_round_trips_through_kafka(
    settings: Settings,
    topics,
    examples_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    text = "".join(path.read_text() for path in [examples_path, *OUR_EXAMPLES])
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    names = sorted({line["topic"] for line in lines})
    await topics(*names)
    sent = []
    producer = new_producer(settings)
    await producer.start()
    for line in lines:
        event = decode(line["topic"], json.dumps(line["value"]).encode())
        key = key_of(event)
        assert key == line["key"]
        await producer.send_and_wait(
            settings.topic(line["topic"]), encode(event), key=key.encode() if key else None
        )
        sent.append((line["topic"], event, line["value"]))
    await producer.stop()

    received = {}
    for r in await read_records(settings, *names, count=len(sent)):
        logical = settings.logical_topic(r.topic)
        event = decode(logical, r.value)
        assert (r.key.decode() if r.key else None) == key_of(event)
        received[event.event_id] = (logical, event, json.loads(r.value))

    for topic, event, original in sent:
        got_topic, got, got_json = received[event.event_id]
        assert got_topic == topic
        assert got == event
        assert _normalised(got_json) == _normalised(original)
    covered = {type(e).__name__ for _, e, _ in sent}
    registered = {t.__name__ for spec in ALL_TOPICS for t in spec.event_types}
    assert covered == registered, f"examples miss {registered - covered}"
