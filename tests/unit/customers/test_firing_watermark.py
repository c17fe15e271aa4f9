"""How far the projection has applied events, per partition and overall; and the fired
pairs the engine remembers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.customers.firing.fired import FiredPairs
from services.customers.firing.watermark import FETCH_MARGIN, partition_mark, watermark_of

pytestmark = pytest.mark.unit

POLLED = datetime(2024, 6, 10, 9, 30, tzinfo=UTC)
POLLED_MS = int(POLLED.timestamp() * 1000)
APPLIED = POLLED - timedelta(minutes=5)


@pytest.mark.parametrize(
    ("position", "end", "polled_ms", "applied_at", "expected"),
    [
        pytest.param(10, 10, POLLED_MS, APPLIED, POLLED - FETCH_MARGIN, id="caught up: the fetch"),
        pytest.param(0, 0, POLLED_MS, None, POLLED - FETCH_MARGIN, id="empty partition"),
        pytest.param(7, 10, POLLED_MS, APPLIED, APPLIED, id="behind: the last applied record"),
        pytest.param(7, 10, POLLED_MS, None, None, id="behind, nothing applied yet"),
        pytest.param(10, None, POLLED_MS, APPLIED, None, id="never fetched"),
        pytest.param(10, 10, None, APPLIED, None, id="no fetch time"),
    ],
)
def test_a_partition_is_applied_up_to(
    position: int,
    end: int | None,
    polled_ms: int | None,
    applied_at: datetime | None,
    expected: datetime | None,
) -> None:
    assert partition_mark(position, end, polled_ms, applied_at) == expected


def test_the_projection_is_as_far_as_its_slowest_partition() -> None:
    assert watermark_of([POLLED, APPLIED, POLLED]) == APPLIED
    assert watermark_of([POLLED, None]) is None
    assert watermark_of([]) is None


def test_fired_pairs_are_remembered_per_plan_and_forgotten_with_it() -> None:
    fired = FiredPairs()
    fired.add("a", "c1")
    fired.add("a", "c2")
    fired.add("b", "c1")
    assert ("a", "c1") in fired
    assert ("b", "c2") not in fired
    assert len(fired) == 3
    fired.forget({"a"})
    assert ("a", "c1") not in fired
    assert len(fired) == 1
    fired.add("c", "c9")
    fired.keep_only({"c"})
    assert ("b", "c1") not in fired
    assert ("c", "c9") in fired
