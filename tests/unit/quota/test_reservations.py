"""A week's reservations: take within the limit, release before dispatch, never twice."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.quota.domain.reservations import (
    PlanState,
    WeekUsage,
    dispatch,
    quota_left,
    release,
    reserve,
)

pytestmark = pytest.mark.unit

NONE: dict[str, PlanState] = {}


@pytest.mark.parametrize(
    ("plans", "limit", "outcome", "used_after"),
    [
        (NONE, 3, "reserved", 1),
        ({"a": "reserved", "b": "reserved"}, 3, "reserved", 3),
        ({"a": "reserved", "b": "dispatched", "c": "reserved"}, 3, "quota_exhausted", 3),
        ({"a": "released", "b": "released", "c": "reserved"}, 3, "reserved", 2),
        (NONE, 0, "quota_exhausted", 0),
        # A limit lowered below what is used refuses without going negative.
        ({"a": "reserved", "b": "reserved"}, 1, "quota_exhausted", 2),
        ({"p": "reserved"}, 3, "already_reserved", 1),
        ({"p": "dispatched"}, 3, "already_reserved", 1),
        ({"p": "released"}, 3, "already_released", 0),
    ],
)
def test_reserve(plans: dict[str, PlanState], limit: int, outcome: str, used_after: int) -> None:
    usage, got = reserve(WeekUsage(plans), "p" if "p" in plans or not plans else "new", limit)
    assert (got, usage.used) == (outcome, used_after)


@pytest.mark.parametrize(
    ("state", "release_outcome", "dispatch_outcome"),
    [
        (None, "not_reserved", "not_reserved"),
        ("reserved", "released", "dispatched"),
        ("released", "already_released", "already_released"),
        ("dispatched", "already_dispatched", "already_dispatched"),
    ],
)
def test_release_and_dispatch(
    state: PlanState | None, release_outcome: str, dispatch_outcome: str
) -> None:
    usage = WeekUsage({} if state is None else {"p": state})
    assert release(usage, "p")[1] == release_outcome
    assert dispatch(usage, "p")[1] == dispatch_outcome


def test_transitions_leave_the_original_untouched() -> None:
    usage = WeekUsage({"p": "reserved"})
    released, _ = release(usage, "p")
    assert (usage.plans, released.plans) == ({"p": "reserved"}, {"p": "released"})


@pytest.mark.parametrize(("limit", "used", "left"), [(3, 0, 3), (3, 3, 0), (1, 4, 0), (0, 0, 0)])
def test_quota_left_is_never_negative(limit: int, used: int, left: int) -> None:
    assert quota_left(limit, used) == left


operations = st.lists(
    st.tuples(st.sampled_from(["reserve", "release", "dispatch"]), st.integers(0, 6)),
    max_size=60,
)


@given(operations, st.integers(0, 5))
def test_any_sequence_stays_within_the_limit_and_counts_each_plan_once(
    steps: list[tuple[str, int]], limit: int
) -> None:
    usage = WeekUsage()
    ever_released: set[str] = set()
    for operation, n in steps:
        plan = f"plan-{n}"
        before = usage.plans.get(plan)
        if operation == "reserve":
            usage, outcome = reserve(usage, plan, limit)
            assert outcome != "reserved" or before is None
            assert plan not in ever_released or outcome == "already_released"
        elif operation == "release":
            usage, outcome = release(usage, plan)
            if outcome == "released":
                ever_released.add(plan)
        else:
            usage, _ = dispatch(usage, plan)
        assert usage.used <= limit
        assert usage.used == sum(1 for s in usage.plans.values() if s != "released")
