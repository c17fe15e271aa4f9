"""The preview's count skips decoding customers whose profile already fails: it must count
exactly the customers `matches_at` accepts."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.customers.domain.conditions import Condition, matches_at
from services.customers.domain.cutoff import cutoff
from services.customers.domain.profile import Profile
from services.customers.domain.relationship import fold, to_stored_json
from services.customers.recompute import count_page
from tests.unit.customers.builders import utc
from tests.unit.customers.test_relationship_properties import events

pytestmark = pytest.mark.unit

CONDITIONS = [
    Condition(field="region", op="in", value=["JK", "JB", "YO"]),
    Condition(field="region", op="not_in", value=["JK"]),
    Condition(field="language", op="eq", value="id"),
    Condition(field="is_follower", op="is_true"),
    Condition(field="order_count", op="eq", value=0),
    Condition(field="order_count", op="gte", value=2),
    Condition(field="days_since_last_view", op="lte", value=30),
    Condition(field="total_spend", op="between", value=[10, 500]),
    Condition(field="ordered_product", op="in", value=["p01", "p02"]),
]
profiles = st.one_of(
    st.none(),
    st.builds(
        Profile,
        region=st.sampled_from(["JK", "JB", "YO", "BA", None]),
        language=st.sampled_from(["id", "en", None]),
        updated_at=st.just(utc("2024-01-01T00:00")),
    ),
)
customers = st.tuples(st.lists(events, max_size=8), profiles)


@settings(max_examples=200, deadline=None)
@given(
    shop=st.lists(customers, min_size=1, max_size=12),
    conditions=st.lists(st.sampled_from(CONDITIONS), min_size=1, max_size=4),
    day=st.dates(min_value=date(2024, 1, 1), max_value=date(2025, 2, 1)),
    market=st.sampled_from(["ID", "US", "GB"]),
)
def test_the_count_is_the_customers_matches_at_accepts(
    shop: list[tuple[list[object], Profile | None]],
    conditions: list[Condition],
    day: date,
    market: str,
) -> None:
    cut = cutoff(day, market)
    rels = {f"c{n}": fold(history) for n, (history, _) in enumerate(shop)}  # type: ignore[arg-type]
    known = {f"c{n}": p for n, (_, p) in enumerate(shop) if p is not None}
    page = [(c, to_stored_json(rel)) for c, rel in rels.items()]
    expected = sum(1 for c, rel in rels.items() if matches_at(conditions, rel, known.get(c), cut))
    assert count_page("s1", page, known, conditions, cut) == expected


def test_an_undecodable_customer_is_not_counted() -> None:
    cut = cutoff(date(2024, 7, 3), "ID")
    follower = to_stored_json(fold([]).model_copy(update={"followed_at": utc("2024-06-01T00:00")}))
    page = [("ok", follower), ("bad", b'{"orders": 7}')]
    is_follower = [Condition(field="is_follower", op="is_true")]
    assert count_page("s1", page, {}, is_follower, cut) == 1
