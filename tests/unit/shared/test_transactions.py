"""The shared transactional loop's pure parts: the offsets a batch commits, decode or
dead letter, a batch fetched before a rebalance being dropped, not handled, and batches
of different partitions running side by side while a rebalance waits for them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import IllegalOperation
from aiokafka.structs import ConsumerRecord

from schemas.dead_letter import DeadLetter
from services.shared import transactions
from services.shared.admission import Plausibility
from services.shared.consumer import Record
from services.shared.failure_policy import is_outage
from services.shared.settings import Settings
from services.shared.transactions import PartitionOutputs, admit_or_letter, next_offsets
from tests.malformed import metrics

AT = datetime(2024, 6, 2, 12, 0, tzinfo=UTC)


def _record(value: bytes, *, partition: int = 0, offset: int = 0) -> Record:
    return ConsumerRecord(
        topic="crm.seller-metrics",
        partition=partition,
        offset=offset,
        timestamp=int(AT.timestamp() * 1000),
        timestamp_type=0,
        key=b"seller-th-001",
        value=value,
        checksum=None,
        serialized_key_size=13,
        serialized_value_size=len(value),
        headers=(),
    )


def test_next_offsets_are_one_past_the_last_record_of_each_partition() -> None:
    records = [
        _record(b"", partition=0, offset=4),
        _record(b"", partition=1, offset=9),
        _record(b"", partition=0, offset=7),
        _record(b"", partition=0, offset=5),
    ]
    assert next_offsets(records) == {
        TopicPartition("crm.seller-metrics", 0): 8,
        TopicPartition("crm.seller-metrics", 1): 10,
    }


def test_a_record_is_admitted_or_dead_lettered_never_both() -> None:
    settings = Settings()
    letters: list = []  # type: ignore[type-arg]
    good = json.dumps(metrics()).encode()
    event = admit_or_letter(settings, _record(good), Plausibility(), service="t", letters=letters)
    assert event is not None
    assert letters == []

    bad = admit_or_letter(
        settings, _record(b"{not json"), Plausibility(), service="t", letters=letters
    )
    assert bad is None
    [letter] = letters
    assert isinstance(letter, DeadLetter)
    assert letter.service == "t"
    assert (letter.offset, letter.source_topic) == (0, "crm.seller-metrics")
    assert letter.error


async def test_a_batch_fetched_before_a_rebalance_is_dropped() -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers="localhost:1")  # never started
    outputs = PartitionOutputs(Settings(), "tx", name="t", group_id="g", consumer=consumer)
    ran: list[int] = []

    async def batch() -> None:
        ran.append(1)

    outputs.assignments = 3
    assert await outputs.guarded(batch, fetched_in=2) is False
    assert ran == []
    assert await outputs.guarded(batch, fetched_in=3) is True
    assert ran == [1]


async def test_batches_of_different_partitions_run_side_by_side() -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers="localhost:1")  # never started
    outputs = PartitionOutputs(Settings(), "tx", name="t", group_id="g", consumer=consumer)
    second_started = asyncio.Event()

    async def first() -> None:
        # Ends only once the second batch runs: one batch at a time would never end.
        await second_started.wait()

    async def second() -> None:
        second_started.set()

    both = asyncio.gather(
        outputs.guarded_side_by_side(first, fetched_in=outputs.epoch, partitions=[]),
        outputs.guarded_side_by_side(second, fetched_in=outputs.epoch, partitions=[]),
    )
    assert await asyncio.wait_for(both, 5) == [True, True]


async def test_a_rebalance_waits_for_the_batches_running_side_by_side() -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers="localhost:1")  # never started
    outputs = PartitionOutputs(Settings(), "tx", name="t", group_id="g", consumer=consumer)
    release = asyncio.Event()

    async def batch() -> None:
        await release.wait()

    running = asyncio.create_task(
        outputs.guarded_side_by_side(batch, fetched_in=outputs.epoch, partitions=[])
    )
    await asyncio.sleep(0.01)
    revocation = asyncio.create_task(outputs.on_partitions_revoked(set()))
    await asyncio.sleep(0.05)
    assert not revocation.done()  # the transaction in flight is not cut in two
    release.set()
    await asyncio.wait_for(revocation, 5)
    assert await running is True


async def test_a_batch_fetched_before_an_assignment_or_a_recovery_is_dropped() -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers="localhost:1")  # never started
    outputs = PartitionOutputs(Settings(), "tx", name="t", group_id="g", consumer=consumer)
    ran: list[int] = []

    async def batch() -> None:
        ran.append(1)

    fetched_in = outputs.epoch
    outputs.recoveries += 1
    assert await outputs.guarded_side_by_side(batch, fetched_in=fetched_in, partitions=[]) is False
    assert ran == []
    assert await outputs.guarded_side_by_side(batch, fetched_in=outputs.epoch, partitions=[])
    assert ran == [1]


async def _retried(
    step_failures: int, first_wait: int | None, monkeypatch: pytest.MonkeyPatch
) -> list[float]:
    waits: list[float] = []

    async def no_sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(asyncio, "sleep", no_sleep)
    failures = iter([ConnectionError("redis away")] * step_failures)

    async def step() -> None:
        if (failure := next(failures, None)) is not None:
            raise failure

    attempts = await transactions.retry_while_outage(
        step, output="t", event="t_failed", backoff=(0.5, 1.0, 2.0, 5.0), first_wait=first_wait
    )
    assert attempts == step_failures + 1
    return waits


async def test_an_outage_is_retried_along_the_backoff_until_the_step_succeeds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert await _retried(3, None, monkeypatch) == [0.5, 1.0, 2.0]
    assert await _retried(5, None, monkeypatch) == [0.5, 1.0, 2.0, 5.0, 5.0]
    # A recovery waits first; back-to-back ones (a long outage) start further along.
    assert await _retried(0, 0, monkeypatch) == [0.5]
    assert await _retried(1, 2, monkeypatch) == [2.0, 5.0]


async def test_what_is_not_an_outage_is_raised_at_once() -> None:
    async def step() -> None:
        raise ValueError("a bug, not an outage")

    with pytest.raises(ValueError, match="a bug"):
        await transactions.retry_while_outage(step, output="t", event="t", backoff=(0.5,))


class _LoggingConsumer:
    """Answers the offset look-ups a rewind makes and notes each call in order; a
    look-up yields to the loop, as a real one does."""

    def __init__(self, committed: dict[TopicPartition, int | None]) -> None:
        self._committed = committed
        self.calls: list[str] = []

    async def committed(self, tp: TopicPartition) -> int | None:
        await asyncio.sleep(0)
        self.calls.append(f"committed {tp.partition}")
        return self._committed[tp]

    async def beginning_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        await asyncio.sleep(0)
        self.calls.append(f"beginning {sorted(tp.partition for tp in tps)}")
        return {tp: 7 for tp in tps}

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.calls.append(f"seek {tp.partition} {offset}")


async def test_a_rewind_seeks_every_partition_at_once_then_tells_the_service() -> None:
    # A service holding fetched records drops those of the rewound partitions when told:
    # a seek that came earlier, before another look-up's wait, would let records read
    # again in that wait be dropped too, and never be handled.
    tps = {TopicPartition("t", 0): 5, TopicPartition("t", 1): None, TopicPartition("t", 2): 9}
    consumer = _LoggingConsumer(tps)
    told: list[set[TopicPartition]] = []

    def on_rewound(rewound: set[TopicPartition]) -> None:
        told.append(rewound)
        consumer.calls.append("told")

    outputs = PartitionOutputs(
        Settings(),
        "tx",
        name="t",
        group_id="g",
        consumer=consumer,
        on_rewound=on_rewound,
    )
    await outputs._rewind(set(tps))
    lookups, seeks, last = consumer.calls[:4], consumer.calls[4:7], consumer.calls[7:]
    assert sorted(lookups) == ["beginning [1]", "committed 0", "committed 1", "committed 2"]
    assert sorted(seeks) == ["seek 0 5", "seek 1 7", "seek 2 9"]
    assert last == ["told"]
    assert told == [set(tps)]


async def test_a_send_into_a_failed_transaction_is_an_outage_not_a_bug() -> None:
    """aiokafka refuses sends into a transaction a broker error already failed with a plain
    IllegalOperation; the batch must be redone like after that error, not stop the loop."""

    class FailedTransactionProducer:
        @asynccontextmanager
        async def transaction(self) -> AsyncIterator[None]:
            yield

    output = transactions.TransactionalOutput(Settings(), "t-0", name="t")
    output._producer = FailedTransactionProducer()  # type: ignore[assignment]
    with pytest.raises(transactions.TransactionBroken) as raised:
        async with output.transaction():
            raise IllegalOperation("Can't send messages while not in transaction")
    assert is_outage(raised.value)
