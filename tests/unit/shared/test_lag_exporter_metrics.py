"""The exporter's metrics carry kafka-lag-exporter's names and labels, from one poll."""

import math

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from services.shared.lag import PartitionLag
from services.shared.lag_exporter import LagCollector, Member

pytestmark = pytest.mark.unit

PARTITION_LABELS = {
    "cluster_name", "group", "topic", "partition", "member_host", "consumer_id", "client_id",
}  # fmt: skip


def test_one_poll_rendered_under_kafka_lag_exporters_names() -> None:
    collector = LagCollector("local")
    registry = CollectorRegistry()
    registry.register(collector)
    rows = [
        PartitionLag("g1", "t", 0, committed=90, start=0, end=100),
        PartitionLag("g1", "t", 1, committed=None, start=5, end=25),
        PartitionLag("g2", "t", 0, committed=100, start=0, end=100),
    ]
    member = Member("10.0.0.7", "c-1-abc", "c-1")
    collector.observe(rows, {("g1", "t", 0): member}, now=1000.0, took=0.1)

    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for s in family.samples
    }
    lag = {
        (dict(k)["group"], dict(k)["partition"]): v
        for (name, k), v in samples.items()
        if name == "kafka_consumergroup_group_lag"
    }
    assert lag == {("g1", "0"): 10, ("g1", "1"): 20, ("g2", "0"): 0}
    for name, labels in samples:
        if name in ("kafka_consumergroup_group_lag", "kafka_consumergroup_group_lag_seconds"):
            assert {k for k, _ in labels} == PARTITION_LABELS
    held = dict(next(k for (n, k) in samples if n == "kafka_consumergroup_group_lag"))
    assert (held["member_host"], held["consumer_id"], held["client_id"]) == (
        "10.0.0.7",
        "c-1-abc",
        "c-1",
    )
    group_max = {
        dict(k)["group"]: v
        for (n, k), v in samples.items()
        if n == "kafka_consumergroup_group_max_lag"
    }
    assert group_max == {"g1": 20, "g2": 0}
    offsets = [v for (n, k), v in samples.items() if n == "kafka_consumergroup_group_offset"]
    assert sum(math.isnan(v) for v in offsets) == 1  # partition 1 has no commit
    latest = {
        dict(k)["partition"]: v
        for (n, k), v in samples.items()
        if n == "kafka_partition_latest_offset"
    }
    assert latest == {"0": 100, "1": 25}
    assert samples[("kafka_lag_exporter_up", ())] == 1


def test_a_failed_poll_says_kafka_is_down_and_keeps_the_last_figures() -> None:
    collector = LagCollector("local")
    collector.observe([PartitionLag("g", "t", 0, 1, 0, 3)], {}, now=1.0, took=0.1)
    collector.kafka_down()
    names = {m.name: m for m in collector.collect()}
    assert names["kafka_lag_exporter_up"].samples[0].value == 0
    assert names["kafka_consumergroup_group_lag"].samples[0].value == 2
