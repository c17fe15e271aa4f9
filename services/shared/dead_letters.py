"""What a record that could not be used becomes: a DeadLetter that points back at it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Protocol

from schemas.dead_letter import DeadLetter
from services.shared.dead_letter_reasons import DEAD_LETTER_REASONS, reason_of

# Deterministic ids: a record dead-lettered twice by one service (a redelivery after a
# crash) yields the same event_id, so readers of crm.dead-letters can de-duplicate; the
# same record refused by two services (each reads the topic) yields two letters.
_NAMESPACE = uuid.UUID("6d1f3c0e-4a3b-5c7d-9e8f-0a1b2c3d4e5f")
# The source record stays in its topic (inputs are kept forever); `raw` is for reading.
RAW_LIMIT = 32 * 1024


def _text(data: bytes | None, limit: int) -> str:
    if data is None:
        return ""
    text = data[:limit].decode("utf-8", errors="replace")
    if len(data) > limit:
        text += f"…[truncated {len(data) - limit} bytes]"
    return text


def dead_letter(
    *,
    source_topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    raw: bytes | None,
    error: str,
    service: str,
    timestamp_ms: int,
) -> DeadLetter:
    DEAD_LETTER_REASONS.labels(service, reason_of(error)).inc()
    return DeadLetter(
        event_id=uuid.uuid5(_NAMESPACE, f"{service}/{source_topic}/{partition}/{offset}"),
        occurred_at=datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC),
        source_topic=source_topic,
        partition=partition,
        offset=offset,
        key=None if key is None else _text(key, 1024),
        raw=_text(raw, RAW_LIMIT),
        error=error,
        service=service,
    )


class SourceRecord(Protocol):
    """What aiokafka's ConsumerRecord and faust's Message both carry."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


def dead_letter_for(
    record: SourceRecord, *, error: str, service: str, timestamp_ms: int
) -> DeadLetter:
    # The timestamp is passed apart: aiokafka gives milliseconds, faust seconds.
    return dead_letter(
        source_topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        raw=record.value,
        error=error,
        service=service,
        timestamp_ms=timestamp_ms,
    )
