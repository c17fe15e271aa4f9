"""Reading a registry topic from its start to the end it had when reading began (or to
given offsets: a consumer group's committed ones), read_committed: how the quota
counters, the campaign calendar and every projection guard (projection_guard.py)
rebuild after Redis lost data."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.envelope import Event
from schemas.topics import topic as registry_topic
from services.shared.admission import Plausibility, admit
from services.shared.codec import DecodeError
from services.shared.consumer import Record
from services.shared.kafka import admin_client, new_consumer
from services.shared.seen_events import RecentEvents, Seen
from services.shared.settings import Settings

log = structlog.get_logger(__name__)

# Event ids a replay remembers to skip repeats by (the live consumers remember theirs
# for CRM_DEDUP_WINDOW_SECONDS); ~100 bytes each.
REPLAY_WINDOW = 500_000
# Records per fetched batch, and bytes fetched per partition per request.
BATCH = 10_000
FETCH_BYTES = 4 * 1024 * 1024
Progress = Callable[[str, int, int], None]
"""Called with (registry topic, records read, records to read) as a replay goes."""


async def replay(
    settings: Settings,
    topic: str,
    progress: Progress | None = None,
    *,
    until: Mapping[int, int] | None = None,
    since_ms: int | None = None,
) -> AsyncIterator[tuple[int, Event]]:
    """(offset, event) for every valid record up to the end offsets taken at the start,
    or, when `until` is given, up to its offset per partition number (a partition it
    does not name is not read). `since_ms`: from the first record at or after that
    time (ms since the epoch) instead of the beginning.

    Records the live consumers dead-letter are skipped, decided the same way: not
    admitted (services/shared/admission.py, judged against each record's timestamp), or,
    on a topic other systems write, a repeat of an event_id within the replay (an exact
    one, or a conflicting one: the first record wins). A topic that does not exist yet
    has nothing to replay.
    """
    async for record, event in replay_records(
        settings, topic, progress, until=until, since_ms=since_ms
    ):
        yield record.offset, event


async def replay_records(
    settings: Settings,
    topic: str,
    progress: Progress | None = None,
    *,
    until: Mapping[int, int] | None = None,
    since_ms: int | None = None,
) -> AsyncIterator[tuple[Record, Event]]:
    """`replay` with each event's record (key, partition, offset, timestamp)."""
    async for batch in replay_batches(settings, topic, progress, until=until, since_ms=since_ms):
        for admitted in batch:
            yield admitted


async def replay_batches(
    settings: Settings,
    topic: str,
    progress: Progress | None = None,
    *,
    until: Mapping[int, int] | None = None,
    since_ms: int | None = None,
    owns: Callable[[bytes | None], bool] | None = None,
) -> AsyncIterator[list[tuple[Record, Event]]]:
    """`replay_records`, one fetched batch at a time (a refold's path: no per-record
    hop through the generators). `owns`: only records whose Kafka key it accepts are
    decoded (a refold split across processes by key, projection_guard.py); the others
    are counted as read and skipped."""
    rule = Plausibility.of(settings)
    from_outside = registry_topic(topic).direction == "in"
    recent = RecentEvents(size=REPLAY_WINDOW)
    partitions = await _partitions(settings, settings.topic(topic))
    if not partitions:
        return
    # Large fetches: a refold reads whole partitions back to back.
    consumer = new_consumer(
        settings, max_partition_fetch_bytes=FETCH_BYTES, fetch_max_bytes=8 * FETCH_BYTES
    )
    await consumer.start()
    try:
        # Offsets first: once partitions are assigned, the fetcher's long polls
        # hold the broker connection and each offsets request waits ~0.5 s behind one.
        starts, ends = await _bounds(consumer, partitions, until)
        if since_ms is not None:
            found = await consumer.offsets_for_times(dict.fromkeys(partitions, since_ms))
            starts = {tp: ends[tp] if at is None else at.offset for tp, at in found.items()}
        consumer.assign(partitions)
        for tp in partitions:
            consumer.seek(tp, starts[tp])
        total = sum(max(0, ends[tp] - starts[tp]) for tp in partitions)
        remaining = {tp for tp in partitions if ends[tp] > starts[tp]}
        read = 0
        if progress:
            progress(topic, read, total)
        max_bytes = settings.max_event_bytes
        while remaining:
            fetched = await consumer.getmany(*remaining, timeout_ms=1000, max_records=BATCH)
            admitted: list[tuple[Record, Event]] = []
            for tp, records in fetched.items():
                end = ends[tp]
                for record in records:
                    if record.offset >= end:
                        break
                    read += 1
                    if owns is not None and not owns(record.key):
                        continue
                    try:
                        event = admit(
                            topic,
                            record.value,
                            key=record.key,
                            timestamp_ms=record.timestamp,
                            max_bytes=max_bytes,
                            rule=rule,
                        )
                    except DecodeError as exc:
                        log.warning(
                            "replay_skipped", topic=topic, offset=record.offset, error=exc.reason
                        )
                        continue
                    if not from_outside or recent.sift(event) is Seen.NEW:
                        admitted.append((record, event))
            if admitted:
                yield admitted
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
            if progress:
                progress(topic, read, total)
    finally:
        await consumer.stop()


async def records_to_read(
    settings: Settings, topic: str, until: Mapping[int, int] | None = None
) -> int:
    """How many records a replay of the topic (up to `until`) reads, valid or not."""
    partitions = await _partitions(settings, settings.topic(topic))
    if not partitions:
        return 0
    consumer = new_consumer(settings)
    await consumer.start()
    try:
        starts, ends = await _bounds(consumer, partitions, until)
    finally:
        await consumer.stop()
    return sum(max(0, ends[tp] - starts[tp]) for tp in partitions)


async def _bounds(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition], until: Mapping[int, int] | None
) -> tuple[dict[TopicPartition, int], dict[TopicPartition, int]]:
    """Each partition's first offset and the offset a replay stops at."""
    starts = await consumer.beginning_offsets(partitions)
    ends = await consumer.end_offsets(partitions)
    if until is not None:
        ends = {tp: min(end, until.get(tp.partition, 0)) for tp, end in ends.items()}
    return starts, ends


async def _partitions(settings: Settings, physical: str) -> list[TopicPartition]:
    async with admin_client(settings) as client:
        if physical not in await client.list_topics():
            return []
        described = await client.describe_topics([physical])
    return sorted(
        TopicPartition(physical, p["partition"]) for t in described for p in t["partitions"]
    )
