"""The periods a cap decision reads hold every decision within two windows of it, and
the period it writes is kept at least two windows after the decision."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.quota.redis_store import CAP_PERIOD_MS, cap_kept_until, cap_periods

_DAY = 24 * 3600 * 1000
_instants = st.integers(min_value=0, max_value=4_000_000_000_000)
_windows = st.integers(min_value=1, max_value=60 * _DAY)


@given(_instants, _windows, st.floats(min_value=-2, max_value=2))
def test_every_decision_within_two_windows_lies_in_a_period_read(
    at: int, window: int, windows_away: float
) -> None:
    first, own, last = cap_periods(at, window)
    assert first <= own <= last
    assert own == at // CAP_PERIOD_MS
    decided = at + round(windows_away * window)
    if abs(decided - at) <= 2 * window:
        assert first <= decided // CAP_PERIOD_MS <= last


@given(_instants, _windows, _instants)
def test_a_period_is_kept_two_windows_after_any_decision_in_it_and_after_now(
    at: int, window: int, now: int
) -> None:
    _, own, _ = cap_periods(at, window)
    kept = cap_kept_until(own, window, now)
    assert kept >= max(at, now) + 2 * window
