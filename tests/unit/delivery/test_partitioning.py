"""The fan-out's own murmur2 picks the partitions Kafka's default partitioner picks."""

import random

from aiokafka.partitioner import DefaultPartitioner, murmur2

from services.delivery.message_batches import murmur2 as fast_murmur2
from services.delivery.message_batches import partition_of


def test_same_hash_as_aiokafka_for_every_length() -> None:
    rng = random.Random(16)
    keys = [rng.randbytes(length) for length in range(300) for _ in range(20)]
    keys += [f"c{n:07d}".encode() for n in range(2000)] + ["ลูกค้า-42".encode()]
    for key in keys:
        assert fast_murmur2(key) == murmur2(key), key


def test_same_partition_as_the_default_partitioner() -> None:
    default = DefaultPartitioner()
    for count in (1, 3, 12):
        partitions = list(range(count))
        for n in range(2000):
            key = f"customer-{n}".encode()
            assert partition_of(key, partitions) == default(key, partitions, partitions)
