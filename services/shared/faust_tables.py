"""A faust Table that does not mistake "partitions not known yet" for a mismatch.

Before its first write from a source topic, faust compares the source topic's partition
count with the changelog's, read from the consumer's metadata snapshot. aiokafka
records a topic it has no partition metadata for yet (a changelog faust has just
created, a refresh that came back with LEADER_NOT_AVAILABLE) as 0 partitions, and
faust then raises PartitionsMismatch "6 != 0" from inside the agent. faust's stream
acknowledges the event it was handling even when the agent raises, so that event was
lost: seen once as a seller's metrics missing from the month's decision.

A Kafka topic never has 0 partitions, so 0 means "unknown": skip the check this time
and make it again on the next write, when the metadata is known. Real mismatches
still raise.
"""

from __future__ import annotations

from typing import Any

import faust


class KnownPartitionsTable(faust.Table[Any, Any]):
    def _verify_source_topic_partitions(self, source_topic: str) -> None:
        consumer = self.app.consumer
        if not consumer.topic_partitions(source_topic) or not consumer.topic_partitions(
            self.changelog_topic_name
        ):
            return
        super()._verify_source_topic_partitions(source_topic)
