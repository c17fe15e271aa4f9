"""A big plan's shards: who belongs to which (stable, disjoint, covering), the progress
key each shard's checkpoint is kept under, each shard's completion named apart, and a
sharded plan's figures summing the latest record of each shard."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.delivery import DeliveryProgressed
from services.delivery.domain.performance import shard_fields, shard_prefix, sharded_totals
from services.delivery.domain.recipients import in_shard, shard_of
from services.delivery.domain.suppression import Tally
from services.delivery.progress_records import Shard, completion, progress_record
from services.shared.codec import decode
from tests.unit.delivery import builders as b
from tests.unit.delivery.test_fan_out_rules import _plan

pytestmark = pytest.mark.unit

AT = datetime(2024, 7, 3, 12, tzinfo=UTC)


@given(st.lists(st.text(min_size=1, max_size=12), unique=True), st.integers(1, 12))
def test_the_shards_split_the_members_without_overlap_or_gap(members: list[str], n: int) -> None:
    shards = [in_shard(members, i, n) for i in range(n)]
    assert sorted(m for shard in shards for m in shard) == sorted(members)
    for i, shard in enumerate(shards):
        assert all(shard_of(m, n) == i for m in shard)


def test_a_customers_shard_is_the_same_in_every_process() -> None:
    # crc32, not Python's salted hash(): the same in every process, across restarts.
    assert [shard_of(c, 6) for c in ("c0000001", "c0000002", "s1-c00042")] == [4, 4, 5]


def _progress(shard: int, count: int, recipients: int, *, done: bool = False) -> DeliveryProgressed:
    return progress_record(
        _plan(),
        AT.date(),
        None,
        Tally(recipients=recipients, sent=recipients - 1, suppressed={"blocked": 1}),
        done=done,
        at=AT,
        shard=Shard(shard, count),
    )


def test_each_shard_is_kept_under_its_own_key_and_an_unsharded_plan_under_its_id() -> None:
    plan_id = _plan().plan_id
    assert _progress(0, 1, 5).progress_key == plan_id
    assert [_progress(i, 3, 5).progress_key for i in range(3)] == [
        f"{plan_id}/0",
        f"{plan_id}/1",
        f"{plan_id}/2",
    ]


def test_a_record_from_before_shards_reads_as_the_whole_plan() -> None:
    old = _progress(0, 1, 5).model_dump(mode="json")
    # A whole plan's record is written as before shards: without the two fields.
    assert "shard" not in old
    assert "shard_count" not in old
    assert _progress(1, 2, 5).model_dump(mode="json")["shard_count"] == 2
    record = decode("crm.delivery-progress", orjson.dumps(old))
    assert isinstance(record, DeliveryProgressed)
    assert (record.shard, record.shard_count, record.progress_key) == (0, 1, record.plan_id)


def test_a_shard_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="shard"):
        _progress(3, 3, 5)


def test_each_shards_completion_is_its_own_command_and_carries_its_shard() -> None:
    commands = [completion(_plan(), _progress(i, 3, 10, done=True), AT) for i in range(3)]
    assert len({c.correlation_id for c in commands}) == 3
    assert [(c.shard, c.shard_count, c.recipients) for c in commands] == [
        (i, 3, 10) for i in range(3)
    ]
    again = completion(_plan(), _progress(1, 3, 10, done=True), AT)
    assert again.correlation_id == commands[1].correlation_id  # sent twice: one command
    whole = completion(_plan(), _progress(0, 1, 10, done=True), AT)
    assert whole.correlation_id == uuid.uuid5(
        uuid.UUID("7d3c9e51-0a4f-4c2b-8e6d-2b1f5a9c7e30"), _plan().plan_id
    )


def test_a_sharded_plans_figures_are_the_sum_of_its_shards_latest() -> None:
    fields: dict[str, str] = {}
    for record in [
        _progress(0, 3, 4),
        _progress(1, 3, 7, done=True),
        _progress(0, 3, 9, done=True),
    ]:
        assert shard_prefix(record) == f"shard{record.shard}:"
        fields.update(shard_fields(record, 1))
    partial = sharded_totals(fields, 3)
    assert (partial["recipients"], partial["sent"], partial["suppressed:blocked"]) == (
        "16",
        "14",
        "2",
    )
    assert partial["done"] == "0"  # shard 2 has not reported
    fields.update(shard_fields(_progress(2, 3, 1, done=True), 2))
    done = sharded_totals(fields, 3)
    assert (done["recipients"], done["done"]) == ("17", "1")


def test_an_unsharded_record_keeps_the_plans_own_fields() -> None:
    record = b.progressed(AT, "p1", recipients=3, sent=3)
    assert shard_prefix(record) == ""
