"""The firing engine's timetable: one live entry per pair, earliest first, plans dropped
whole."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.customers.firing.schedule import Schedule
from tests.unit.customers.builders import utc

pytestmark = pytest.mark.unit

T = utc("2024-06-10T09:30")
MINUTE = timedelta(minutes=1)


def test_due_pairs_come_out_earliest_first_and_only_once_due() -> None:
    schedule = Schedule()
    schedule.push(T + 2 * MINUTE, "plan", "c2")
    schedule.push(T, "plan", "c1")
    schedule.push(T + 9 * MINUTE, "plan", "c3")
    assert schedule.next_at() == T
    assert schedule.pop_due(T - MINUTE, 10) == []
    assert schedule.pop_due(T + 2 * MINUTE, 10) == [
        (T, "plan", "c1"),
        (T + 2 * MINUTE, "plan", "c2"),
    ]
    assert len(schedule) == 1
    assert schedule.next_at() == T + 9 * MINUTE


def test_a_pair_waits_for_its_earliest_moment_only() -> None:
    schedule = Schedule()
    assert schedule.push(T + MINUTE, "plan", "c1")
    assert not schedule.push(T + 5 * MINUTE, "plan", "c1")
    assert schedule.push(T, "plan", "c1")
    assert len(schedule) == 1
    assert schedule.pop_due(T + 10 * MINUTE, 10) == [(T, "plan", "c1")]
    assert schedule.pop_due(T + 10 * MINUTE, 10) == []  # the superseded entry is gone
    assert schedule.next_at() is None


def test_pop_due_takes_at_most_the_limit() -> None:
    schedule = Schedule()
    for i in range(5):
        schedule.push(T, "plan", f"c{i}")
    assert len(schedule.pop_due(T, 3)) == 3
    assert len(schedule.pop_due(T, 3)) == 2


def test_dropping_a_plan_forgets_its_pairs_only() -> None:
    schedule = Schedule()
    schedule.push(T, "a", "c1")
    schedule.push(T, "b", "c1")
    schedule.push(T + MINUTE, "a", "c2")
    assert schedule.drop_plans(["a"]) == 2
    assert ("b", "c1") in schedule
    assert schedule.pop_due(T + MINUTE, 10) == [(T, "b", "c1")]


pushes = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=50),
        st.sampled_from(["a", "b"]),
        st.sampled_from([f"c{i}" for i in range(8)]),
    ),
    max_size=3000,
)


@settings(max_examples=100, deadline=None)
@given(pushes=pushes)
def test_the_timetable_keeps_the_earliest_moment_of_each_pair(
    pushes: list[tuple[int, str, str]],
) -> None:
    schedule = Schedule()
    earliest: dict[tuple[str, str], int] = {}
    for minutes, plan, customer in pushes:
        schedule.push(T + minutes * MINUTE, plan, customer)
        key = (plan, customer)
        earliest[key] = min(earliest.get(key, minutes), minutes)
    popped = schedule.pop_due(T + 50 * MINUTE, 10_000)
    assert sorted(popped) == sorted((T + m * MINUTE, p, c) for (p, c), m in earliest.items())
    assert [at for at, _, _ in popped] == sorted(at for at, _, _ in popped)
    assert len(schedule) == 0
