"""Consumer lag per group, topic and partition, from the admin API.

Lag is the log end offset minus the group's committed offset. Every partition of
a topic the group has committed on is reported: a partition it has not committed
on yet counts from the log start, since our consumers reset to the earliest
offset. On topics written inside transactions the end offset also counts commit
markers, so a caught-up read_committed group can show a small residual lag.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import partial

from aiokafka import TopicPartition

from services.shared.kafka import admin_client, new_consumer, retrying
from services.shared.settings import Settings


@dataclass(frozen=True, order=True)
class PartitionLag:
    group: str
    topic: str
    partition: int
    committed: int | None
    start: int
    end: int

    @property
    def lag(self) -> int:
        position = self.start if self.committed is None else max(self.committed, self.start)
        return max(0, self.end - position)

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "lag": self.lag}


def compute_lag(
    group: str,
    committed: dict[TopicPartition, int],
    starts: dict[TopicPartition, int],
    ends: dict[TopicPartition, int],
) -> list[PartitionLag]:
    """Rows for every partition in `ends`; `committed` may lack some (or hold -1)."""
    rows = []
    for tp, end in ends.items():
        offset = committed.get(tp, -1)
        rows.append(
            PartitionLag(
                group,
                tp.topic,
                tp.partition,
                offset if offset >= 0 else None,
                starts.get(tp, 0),
                end,
            )
        )
    return sorted(rows, key=lambda r: (r.topic, r.partition))


async def consumer_lag(
    settings: Settings, groups: list[str] | None = None, topic_prefix: str | None = None
) -> list[PartitionLag]:
    async with admin_client(settings) as client:
        if groups is None:
            groups = sorted(g for g, _protocol in await retrying(client.list_consumer_groups))
        committed: dict[str, dict[TopicPartition, int]] = {}
        for group in groups:
            offsets = await retrying(partial(client.list_consumer_group_offsets, group))
            committed[group] = {
                tp: meta.offset
                for tp, meta in offsets.items()
                if topic_prefix is None or tp.topic.startswith(topic_prefix)
            }
        topics = sorted({tp.topic for offsets in committed.values() for tp in offsets})
        if not topics:
            return []
        partitions = [
            TopicPartition(t["topic"], p["partition"])
            for t in await client.describe_topics(topics)
            for p in t["partitions"]
        ]
    consumer = new_consumer(settings)
    await consumer.start()
    try:
        starts = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    rows = []
    for group in groups:
        mine = {tp.topic for tp in committed[group]}
        group_ends = {tp: end for tp, end in ends.items() if tp.topic in mine}
        rows.extend(compute_lag(group, committed[group], starts, group_ends))
    return rows
