"""high_value_customers: the top 10% by spend in the last 365 days, ties at the cut left out."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.customers.domain.relationship import fold
from services.customers.domain.segments import members, top_spenders
from tests.unit.customers.builders import local, ordered

pytestmark = pytest.mark.unit

D = date(2024, 6, 30)


def _spends(*amounts: float) -> dict[str, float]:
    return {f"c{index:02d}": amount for index, amount in enumerate(amounts)}


@pytest.mark.parametrize(
    ("spend", "expected"),
    [
        pytest.param({}, set(), id="no customers"),
        pytest.param({"a": 0.0, "b": 0.0}, set(), id="nobody spent"),
        pytest.param({"a": 5.0}, {"a"}, id="one spender takes the one place"),
        pytest.param({"a": 5.0, "b": 0.0}, {"a"}, id="zero spend is not a customer here"),
        pytest.param({"a": 5.0, "b": 3.0}, {"a"}, id="two spenders, one place"),
        pytest.param({"a": 5.0, "b": 5.0}, set(), id="two tied for one place"),
        pytest.param(_spends(*range(1, 11)), {"c09"}, id="10 spenders, 1 place"),
        pytest.param(_spends(*range(1, 12)), {"c10", "c09"}, id="11 spenders, 2 places"),
        pytest.param(_spends(*range(1, 22)), {"c20", "c19", "c18"}, id="21 spenders, 3 places"),
        pytest.param(
            _spends(100, 100, 50, *[1] * 17), {"c00", "c01"}, id="a tie inside the places"
        ),
        pytest.param(
            _spends(100, 60, 60, *[1] * 17), {"c00"}, id="a tie across the cut is left out"
        ),
        pytest.param(_spends(*[7] * 30), set(), id="everyone equal: no top 10%"),
    ],
)
def test_the_cut(spend: dict[str, float], expected: set[str]) -> None:
    assert top_spenders(spend) == expected


@given(
    st.dictionaries(st.text(min_size=1, max_size=4), st.sampled_from([0.0, 1.0, 2.5, 10.0, 99.0]))
)
def test_the_cut_never_exceeds_its_places_and_never_splits_a_tie(spend: dict[str, float]) -> None:
    chosen = top_spenders(spend)
    spenders = {customer for customer, amount in spend.items() if amount > 0}
    assert chosen <= spenders
    assert len(chosen) <= math.ceil(len(spenders) / 10)
    for member in chosen:
        for other in spenders - chosen:
            assert spend[member] > spend[other]


def test_spend_counts_orders_of_the_last_365_days_local() -> None:
    # 365 days before 2024-06-30 is 2023-07-01 00:00 in Bangkok.
    in_window = fold([ordered(local("TH", "2023-07-01"), "o1", 500.0)])
    just_out = fold([ordered(local("TH", "2023-07-01") - timedelta(microseconds=1), "o1", 900.0)])
    small = fold([ordered(local("TH", "2024-06-01"), "o2", 10.0)])
    at_cutoff = fold([ordered(local("TH", "2024-06-30"), "o3", 10_000.0)])
    population = [("in", in_window), ("out", just_out), ("small", small), ("late", at_cutoff)]
    # Two spenders in the window (in: 500, small: 10): one place, for "in".
    assert members("high_value_customers", population, D, "TH") == {"in"}


def test_spend_sums_every_order_in_the_window() -> None:
    many_small = fold([ordered(local("TH", f"2024-0{m}-01"), f"o{m}", 40.0) for m in range(1, 7)])
    one_big = fold([ordered(local("TH", "2024-06-01"), "big", 200.0)])
    population = [("many", many_small), ("big", one_big)]
    assert members("high_value_customers", population, D, "TH") == {"many"}
