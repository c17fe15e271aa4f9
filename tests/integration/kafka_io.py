"""Reading what a test's workers wrote: the one helper every integration test uses."""

from __future__ import annotations

from aiokafka import ConsumerRecord

from services.shared.kafka import new_consumer
from services.shared.settings import Settings


async def read_records(
    settings: Settings, *topics: str, count: int, wait_ms: int = 30_000
) -> list[ConsumerRecord[bytes, bytes]]:
    """The first `count` records of the registry `topics` (read_committed), or fail
    naming how many arrived when nothing more comes within `wait_ms`."""
    consumer = new_consumer(settings, *topics)
    await consumer.start()
    seen: list[ConsumerRecord[bytes, bytes]] = []
    try:
        while len(seen) < count:
            batch = await consumer.getmany(timeout_ms=wait_ms)
            assert batch, f"{topics}: only {len(seen)} of {count} records arrived"
            seen.extend(r for rs in batch.values() for r in rs)
    finally:
        await consumer.stop()
    return seen


async def read_until_idle(
    settings: Settings, *topics: str, idle_ms: int = 3_000
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of the registry `topics` from the start, until none arrives for `idle_ms`."""
    consumer = new_consumer(settings, *topics)
    await consumer.start()
    seen: list[ConsumerRecord[bytes, bytes]] = []
    try:
        while batch := await consumer.getmany(timeout_ms=idle_ms):
            seen.extend(r for rs in batch.values() for r in rs)
    finally:
        await consumer.stop()
    return seen
