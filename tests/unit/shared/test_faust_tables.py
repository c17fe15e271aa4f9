"""KnownPartitionsTable against faust's own check, with the partition counts the
consumer's metadata snapshot would hold (0 is what aiokafka records for a topic it
has no partition metadata for yet)."""

from __future__ import annotations

from pathlib import Path

import faust
import pytest
from faust.exceptions import PartitionsMismatch

from services.shared.faust_tables import KnownPartitionsTable

SOURCE = "t.crm.seller-metrics"


def _table(table_class: type, counts: dict[str, int], datadir: Path) -> faust.Table:
    app = faust.App(
        f"t-{table_class.__name__}",
        broker="kafka://127.0.0.1:1",
        Table=table_class,
        datadir=str(datadir),
    )
    table = app.Table("sellers", partitions=6)
    app.consumer.topic_partitions = lambda topic: counts.get(topic)
    return table


def test_faust_itself_takes_unknown_partitions_for_a_mismatch(tmp_path: Path) -> None:
    # Why the subclass exists; if faust stops doing this, the subclass can go.
    counts: dict[str, int] = {}
    table = _table(faust.Table, counts, tmp_path)
    counts.update({SOURCE: 6, table.changelog_topic_name: 0})
    with pytest.raises(PartitionsMismatch):
        table._verify_source_topic_partitions(SOURCE)


@pytest.mark.parametrize(("source", "changelog"), [(6, 0), (0, 6), (0, 0)])
def test_unknown_partitions_are_checked_again_later(
    tmp_path: Path, source: int, changelog: int
) -> None:
    counts: dict[str, int] = {}
    table = _table(KnownPartitionsTable, counts, tmp_path)
    counts.update({SOURCE: source, table.changelog_topic_name: changelog})
    table._verify_source_topic_partitions(SOURCE)  # no PartitionsMismatch
    assert SOURCE not in table._verified_source_topics_for_partitions

    counts.update({SOURCE: 6, table.changelog_topic_name: 6})
    table._verify_source_topic_partitions(SOURCE)
    assert SOURCE in table._verified_source_topics_for_partitions


def test_a_real_mismatch_still_raises(tmp_path: Path) -> None:
    counts: dict[str, int] = {}
    table = _table(KnownPartitionsTable, counts, tmp_path)
    counts.update({SOURCE: 6, table.changelog_topic_name: 3})
    with pytest.raises(PartitionsMismatch, match="has 3 partitions"):
        table._verify_source_topic_partitions(SOURCE)
