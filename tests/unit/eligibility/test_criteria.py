from datetime import UTC, datetime

import pytest

from schemas.seller import Criterion
from services.eligibility.domain.calendar import window
from services.eligibility.domain.criteria import DailyMetrics, evaluate_criteria
from services.eligibility.domain.state import SellerState, record_metrics, reports_in
from services.policy.domain import EligibilityRules, ExtraRule
from tests.unit.eligibility.builders import POLICY, metrics

RULES = POLICY.eligibility


def _criteria(
    *events, month: str = "2024-07", rules: EligibilityRules = RULES
) -> dict[str, Criterion]:
    state = SellerState(seller_id="s1")
    for event in events:
        state = record_metrics(state, event) or state
    start, end = window(month)
    return {c.name: c for c in evaluate_criteria(rules, reports_in(state, start, end))}


@pytest.mark.parametrize(
    ("received", "responded", "passed"),
    [
        (100, 85, True),
        (10_000, 8_499, False),
        (10_000, 8_500, True),
        (20, 17, True),
        (100, 84, False),
    ],
)
def test_response_rate_boundary(received: int, responded: int, passed: bool) -> None:
    c = _criteria(metrics("2024-06-01", received=received, responded=responded))[
        "response_rate_12h"
    ]
    assert c.passed is passed
    assert c.value == pytest.approx(responded / received)
    assert (c.op, c.threshold) == (">=", 0.85)


def test_response_rate_sums_over_the_window_not_an_average_of_days() -> None:
    c = _criteria(
        metrics("2024-06-01", received=10, responded=10),
        metrics("2024-06-02", received=90, responded=70),
    )["response_rate_12h"]
    assert c.value == pytest.approx(0.80)
    assert not c.passed


def test_no_chats_in_the_window_passes_with_a_note() -> None:
    c = _criteria(metrics("2024-06-01", received=0, responded=0))["response_rate_12h"]
    assert (c.passed, c.note, c.value) == (True, "no_chats", None)


@pytest.mark.parametrize(("ses", "passed"), [(3.5, True), (3.49, False), (5.0, True), (0.0, False)])
def test_ses_boundary(ses: float, passed: bool) -> None:
    c = _criteria(metrics("2024-06-01", ses=ses))["ses"]
    assert (c.passed, c.value) == (passed, ses)


def test_ses_is_the_latest_non_null_value() -> None:
    c = _criteria(
        metrics("2024-06-01", ses=4.5),
        metrics("2024-06-10", ses=2.0),
        metrics("2024-06-15", ses=None),
    )["ses"]
    assert (c.value, c.passed) == (2.0, False)


def test_no_ses_in_the_window_fails_with_no_data() -> None:
    c = _criteria(metrics("2024-06-01", ses=None))["ses"]
    assert (c.passed, c.note, c.value) == (False, "no_data", None)


@pytest.mark.parametrize(("points", "passed"), [(11, True), (12, False), (0, True)])
def test_violation_points_boundary(points: int, passed: bool) -> None:
    c = _criteria(metrics("2024-06-01", violations=points))["violation_points"]
    assert (c.passed, c.value, c.op, c.threshold) == (passed, points, "<", 12)


def test_violation_points_take_the_latest_day() -> None:
    c = _criteria(metrics("2024-06-20", violations=3), metrics("2024-06-01", violations=30))
    assert c["violation_points"].value == 3


@pytest.mark.parametrize(
    ("day", "in_july_window"),
    [("2024-05-21", False), ("2024-05-22", True), ("2024-06-21", True), ("2024-06-22", False)],
)
def test_metrics_dates_on_the_21st_and_22nd(day: str, in_july_window: bool) -> None:
    c = _criteria(metrics(day, ses=4.0))
    assert c["ses"].passed is in_july_window
    assert (c["ses"].note == "no_data") is not in_july_window


def test_no_data_at_all_fails_every_criterion() -> None:
    c = _criteria()
    assert set(c) == {"response_rate_12h", "ses", "violation_points"}
    assert all(not x.passed and x.note == "no_data" for x in c.values())


def test_a_correction_replaces_the_report_of_its_day() -> None:
    first = metrics("2024-06-01", ses=2.0, at=datetime(2024, 6, 2, tzinfo=UTC))
    fixed = metrics("2024-06-01", ses=4.0, at=datetime(2024, 6, 3, tzinfo=UTC))
    assert _criteria(first, fixed)["ses"].value == 4.0
    # Order of arrival does not matter: the later report wins either way …
    assert _criteria(fixed, first)["ses"].value == 4.0
    # … and a redelivered original changes nothing.
    assert _criteria(first, fixed, first)["ses"].value == 4.0


def test_extra_rules_use_the_latest_value_and_say_no_data() -> None:
    rules = RULES.model_copy(
        update={"extra": (ExtraRule(name="late_rate", op="<", threshold=0.05),)}
    )
    c = _criteria(
        metrics("2024-06-01", extra={"late_rate": 0.01}),
        metrics("2024-06-05", extra={"late_rate": 0.07}),
        metrics("2024-06-09"),
        rules=rules,
    )
    assert (c["late_rate"].value, c["late_rate"].passed) == (0.07, False)
    assert _criteria(metrics("2024-06-01"), rules=rules)["late_rate"].note == "no_data"


def test_daily_metrics_later_report_supersedes() -> None:
    base = dict(
        metrics_date="2024-06-01",
        chats_received=1,
        chats_responded_12h=1,
        ses=None,
        violation_points=0,
    )
    early = DailyMetrics.model_validate(
        {**base, "reported_at": datetime(2024, 1, 1, tzinfo=UTC), "event_id": "b"}
    )
    late = DailyMetrics.model_validate(
        {**base, "reported_at": datetime(2024, 1, 2, tzinfo=UTC), "event_id": "a"}
    )
    assert late.supersedes(early)
    assert not early.supersedes(late)
