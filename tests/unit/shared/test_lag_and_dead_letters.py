from __future__ import annotations

from aiokafka import TopicPartition

from services.shared.dead_letters import RAW_LIMIT, dead_letter
from services.shared.lag import compute_lag


def test_lag_is_end_minus_committed_per_partition() -> None:
    a, b = TopicPartition("t", 0), TopicPartition("t", 1)
    rows = compute_lag("g", {a: 7, b: 10}, {}, {a: 10, b: 10})
    assert [(r.partition, r.lag) for r in rows] == [(0, 3), (1, 0)]


def test_partition_without_commit_counts_from_the_log_start() -> None:
    a, b, c = (TopicPartition("t", p) for p in range(3))
    rows = compute_lag("g", {a: 4, b: -1}, {a: 0, b: 2, c: 3}, {a: 4, b: 9, c: 10})
    assert [(r.partition, r.committed, r.lag) for r in rows] == [
        (0, 4, 0),
        (1, None, 7),
        (2, None, 7),
    ]


def test_committed_offset_below_a_truncated_log_start_counts_from_the_start() -> None:
    a = TopicPartition("t", 0)
    (row,) = compute_lag("g", {a: 2}, {a: 5}, {a: 9})
    assert row.lag == 4


def _letter(offset: int, raw: bytes | None = b"{bad", service: str = "eligibility"):  # type: ignore[no-untyped-def]
    return dead_letter(
        source_topic="crm.seller-metrics",
        partition=2,
        offset=offset,
        key=b"s1",
        raw=raw,
        error="invalid JSON",
        service=service,
        timestamp_ms=1_717_300_000_000,
    )


def test_dead_letter_ids_are_stable_per_source_record_and_service() -> None:
    assert _letter(5).event_id == _letter(5).event_id
    assert _letter(5).event_id != _letter(6).event_id
    # Two services refusing the same record are two letters, not one de-duplicated away.
    assert _letter(5).event_id != _letter(5, service="customers").event_id
    assert _letter(5).occurred_at.isoformat() == "2024-06-02T03:46:40+00:00"


def test_huge_raw_is_truncated_and_says_so() -> None:
    letter = _letter(1, b"x" * (RAW_LIMIT + 10))
    assert letter.raw.endswith("…[truncated 10 bytes]")
    assert _letter(1, None).raw == ""
