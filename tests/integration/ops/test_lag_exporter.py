"""`crm lag --serve`'s collector against the real broker: offset lag per partition with
the member that holds it, a time lag that grows while the group stands still, the
per-group maxima and the partition's latest offset."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from services.shared.kafka import new_consumer, new_producer
from services.shared.lag_exporter import LagCollector, poll_once
from services.shared.settings import Settings


def _samples(registry: CollectorRegistry, name: str) -> list[tuple[dict[str, str], float]]:
    text = generate_latest(registry).decode()
    return [
        (sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]


async def test_lag_in_offsets_and_seconds_per_partition_with_its_member(
    settings: Settings, topics: Callable[..., Any], group_id: str
) -> None:
    (physical,) = await topics("crm.seller-metrics", partitions=1)
    producer = new_producer(settings)
    await producer.start()
    for n in range(10):
        await producer.send_and_wait(physical, b"{}", key=f"k{n}".encode())
    consumer = new_consumer(settings, "crm.seller-metrics", group_id=group_id, client_id="lagtest")
    await consumer.start()
    registry = CollectorRegistry()
    collector = LagCollector("test")
    registry.register(collector)
    try:
        read = 0
        while read < 4:
            batch = await consumer.getmany(timeout_ms=2000, max_records=4 - read)
            read += sum(len(records) for records in batch.values())
        await consumer.commit()
        await poll_once(settings, collector, settings.topic_prefix)
        await asyncio.sleep(1.5)
        for n in range(5):
            await producer.send_and_wait(physical, b"{}", key=f"m{n}".encode())
        await poll_once(settings, collector, settings.topic_prefix)
    finally:
        await consumer.stop()
        await producer.stop()

    [(labels, lag)] = [
        s for s in _samples(registry, "kafka_consumergroup_group_lag") if s[0]["group"] == group_id
    ]
    assert lag == 15 - 4
    assert (labels["topic"], labels["partition"], labels["cluster_name"]) == (physical, "0", "test")
    assert labels["client_id"] == "lagtest"
    assert labels["consumer_id"].startswith("lagtest")
    assert labels["member_host"]
    [(_, seconds)] = [
        s
        for s in _samples(registry, "kafka_consumergroup_group_lag_seconds")
        if s[0]["group"] == group_id
    ]
    # Offset 4 was written before the first poll, which is 1.5 s before the second.
    assert seconds >= 1.5
    [(_, max_lag)] = [
        s
        for s in _samples(registry, "kafka_consumergroup_group_max_lag")
        if s[0]["group"] == group_id
    ]
    assert max_lag == 11
    latest = {
        labels["topic"]: value
        for labels, value in _samples(registry, "kafka_partition_latest_offset")
    }
    assert latest[physical] == 15
