"""Which partition a key lives in: Kafka's default partitioner (murmur2 of the key bytes).

Upstream producers key seller topics by seller_id with the default partitioner, so a
seller's events, and therefore its table rows, all live in this partition.
"""

from __future__ import annotations

from aiokafka.partitioner import murmur2


def partition_of(key: str, partitions: int) -> int:
    return int(murmur2(key.encode()) & 0x7FFFFFFF) % partitions
