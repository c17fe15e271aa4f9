"""Raw baselines: what plain aiokafka and redis-py do on this machine, right now.

Every other benchmark is reported as a ratio to one of these, measured in the
same run on the same broker, because this machine's absolute speed drifts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Any

import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner

from services.shared.codec import decode

Pairs = Sequence[tuple[bytes, bytes]]


def rate(count: int, seconds: float, nbytes: int | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {
        "count": count,
        "seconds": round(seconds, 3),
        "per_second": round(count / seconds, 1),
    }
    if nbytes is not None:
        result["mb_per_second"] = round(nbytes / seconds / 1e6, 2)
    return result


async def produce_send(bootstrap: str, topic: str, pairs: Pairs) -> dict[str, Any]:
    """One `send()` per record, batched by the producer's linger (the usual service path)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=256 * 1024,
    )
    await producer.start()
    try:
        start = time.perf_counter()
        futures = [await producer.send(topic, value, key=key) for key, value in pairs]
        await asyncio.gather(*futures)
        elapsed = time.perf_counter() - start
    finally:
        await producer.stop()
    return rate(len(pairs), elapsed, sum(len(v) for _, v in pairs))


async def produce_batched(bootstrap: str, topic: str, pairs: Pairs) -> dict[str, Any]:
    """Explicit per-partition batches (`create_batch`/`send_batch`): the raw ceiling."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        max_batch_size=512 * 1024,
    )
    await producer.start()
    try:
        partitions = sorted(await producer.partitions_for(topic))
        choose = DefaultPartitioner()
        start = time.perf_counter()
        batches = {p: producer.create_batch() for p in partitions}
        futures = []
        for key, value in pairs:
            p = choose(key, partitions, partitions)
            if batches[p].append(key=key, value=value, timestamp=None) is None:
                futures.append(await producer.send_batch(batches[p], topic, partition=p))
                batches[p] = producer.create_batch()
                batches[p].append(key=key, value=value, timestamp=None)
        for p, batch in batches.items():
            if batch.record_count():
                futures.append(await producer.send_batch(batch, topic, partition=p))
        await asyncio.gather(*futures)
        elapsed = time.perf_counter() - start
    finally:
        await producer.stop()
    return rate(len(pairs), elapsed, sum(len(v) for _, v in pairs))


async def consume(
    bootstrap: str, topic: str, partitions: int, count: int, *, decode_events: bool
) -> dict[str, Any]:
    """Read `count` records from the start of `topic` (no group), decoding each if asked."""
    return await consume_topics(bootstrap, {topic: partitions}, count, decode_events=decode_events)


async def consume_topics(
    bootstrap: str, topics: Mapping[str, int], count: int, *, decode_events: bool
) -> dict[str, Any]:
    """Read `count` records from the start of several topics (name → partitions) at once."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 * 1024 * 1024,
        fetch_max_bytes=32 * 1024 * 1024,
    )
    await consumer.start()
    try:
        assigned = [TopicPartition(t, p) for t, n in topics.items() for p in range(n)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        seen = 0
        start = time.perf_counter()
        while seen < count:
            batch = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for records in batch.values():
                if decode_events:
                    for record in records:
                        decode(None, record.value)
                seen += len(records)
        elapsed = time.perf_counter() - start
    finally:
        await consumer.stop()
    return rate(seen, elapsed)


_TRIVIAL = "return redis.call('INCR', KEYS[1])"


def percentile(sorted_values: list[float], q: float) -> float:
    index = min(len(sorted_values) - 1, int(q * len(sorted_values)))
    return sorted_values[index]


async def redis_evalsha(
    redis_url: str, *, clients: int, seconds: float, run_id: str
) -> dict[str, Any]:
    """`clients` concurrent loops of EVALSHA on a one-line script, for `seconds`."""
    pool = aioredis.ConnectionPool.from_url(redis_url, max_connections=clients)
    client = aioredis.Redis(connection_pool=pool)
    sha = await client.script_load(_TRIVIAL)
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def loop(n: int) -> None:
        key = f"bench:{run_id}:{{c{n}}}"
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            await client.evalsha(sha, 1, key)
            latencies.append(time.perf_counter() - t0)

    start = time.perf_counter()
    await asyncio.gather(*(loop(n) for n in range(clients)))
    elapsed = time.perf_counter() - start
    await client.delete(*[f"bench:{run_id}:{{c{n}}}" for n in range(clients)])
    await client.aclose()
    await pool.disconnect()
    latencies.sort()
    result = rate(len(latencies), elapsed)
    result.update(
        clients=clients,
        p50_ms=round(percentile(latencies, 0.50) * 1000, 3),
        p99_ms=round(percentile(latencies, 0.99) * 1000, 3),
    )
    return result
