"""Time lag read off the lookup table of (end offset, first seen) samples."""

import pytest

from services.shared.lag_time import LookupTable, Sample, lag_seconds

pytestmark = pytest.mark.unit

# 10 records a second from t=1000.
TABLE = [Sample(100, 1000.0), Sample(200, 1010.0), Sample(300, 1020.0)]


def test_a_caught_up_group_has_no_time_lag() -> None:
    assert lag_seconds(TABLE, 300, now=1030.0) == 0.0


def test_an_offset_inside_the_table_is_interpolated() -> None:
    # offset 150 was written at 1005; at 1030 it has waited 25 s.
    assert lag_seconds(TABLE, 150, now=1030.0) == pytest.approx(25.0)
    assert lag_seconds(TABLE, 200, now=1030.0) == pytest.approx(20.0)


def test_an_offset_below_the_table_is_extrapolated_on_its_first_and_last_points() -> None:
    # 10 offsets a second backwards from (100, 1000): offset 50 at 995.
    assert lag_seconds(TABLE, 50, now=1030.0) == pytest.approx(35.0)


def test_one_point_gives_its_time_as_a_lower_bound() -> None:
    assert lag_seconds([Sample(100, 1000.0)], 40, now=1012.0) == pytest.approx(12.0)
    assert lag_seconds([], 40, now=1012.0) == 0.0


def test_the_table_keeps_the_first_time_an_offset_was_seen_and_its_size() -> None:
    table = LookupTable(size=3)
    for offset, at in [(10, 1.0), (10, 2.0), (20, 3.0), (30, 4.0), (40, 5.0)]:
        table.add(offset, at)
    assert list(table.samples) == [Sample(20, 3.0), Sample(30, 4.0), Sample(40, 5.0)]
    # A quiet topic: the group stuck at 35 waited since the record was written (~4.5).
    assert lag_seconds(table.samples, 35, now=100.0) == pytest.approx(95.5)


def test_a_recreated_topic_starts_a_new_table() -> None:
    table = LookupTable()
    table.add(500, 1.0)
    table.add(3, 2.0)
    assert list(table.samples) == [Sample(3, 2.0)]
