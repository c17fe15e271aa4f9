"""`crm lag` reports exactly N − M for a group that consumed M of N records."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from aiokafka import TopicPartition

from services.shared.kafka import new_consumer, new_producer
from services.shared.lag import consumer_lag
from services.shared.settings import Settings


async def test_lag_is_records_minus_committed(
    settings: Settings,
    topics,
    group_id: str,  # type: ignore[no-untyped-def]
) -> None:
    (topic,) = await topics("crm.seller-metrics", partitions=3)
    n, m = 50, 17
    producer = new_producer(settings)
    await producer.start()
    for i in range(n):
        await producer.send(topic, b"{}", partition=i % 3)
    await producer.flush()
    await producer.stop()

    consumer = new_consumer(settings, group_id=group_id)
    await consumer.start()
    partitions = [TopicPartition(topic, p) for p in range(3)]
    consumer.assign(partitions)
    await consumer.seek_to_beginning(*partitions)
    taken = 0
    consumed: dict[TopicPartition, int] = {}
    while taken < m:
        batch = await consumer.getmany(timeout_ms=5000, max_records=m - taken)
        for tp, records in batch.items():
            consumed[tp] = records[-1].offset + 1
            taken += len(records)
    await consumer.commit(consumed)
    await consumer.stop()

    rows = await consumer_lag(settings, [group_id])
    assert sum(r.lag for r in rows) == n - m
    assert sum(r.committed or 0 for r in rows) == m
    assert len(rows) == 3, "every partition of the topic is reported, committed or not"

    env = {**os.environ, "CRM_KAFKA_BOOTSTRAP": settings.kafka_bootstrap}
    result = subprocess.run(
        [sys.executable, "-m", "services.cli", "lag", "--group", group_id, "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    reported = json.loads(result.stdout)
    assert sum(row["lag"] for row in reported) == n - m
    assert {(row["topic"], row["partition"]) for row in reported} <= {(topic, p) for p in range(3)}
