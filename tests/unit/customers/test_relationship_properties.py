"""Properties of the fold: any arrival order, with any redeliveries, gives the same state."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.customers.domain.relationship import RelationshipEvent, evolve, fold
from tests.unit.customers.builders import (
    cart_added,
    chatted,
    clicked,
    coupon_claimed,
    followed,
    ordered,
    read,
    sent,
    unfollowed,
    utc,
    viewed,
)

pytestmark = pytest.mark.unit

T0 = utc("2024-01-01T00:00")
# Within the order horizon and under every cap but the id caps, which the pools exceed:
# the exception documented in relationship.py needs archived orders, so it cannot occur.
times = st.integers(min_value=0, max_value=300 * 24 * 60).map(lambda m: T0 + timedelta(minutes=m))
# Few distinct minutes too, so equal instants (a follow and an unfollow together) happen.
coarse_times = st.integers(min_value=0, max_value=5).map(lambda d: T0 + timedelta(days=d))
any_time = st.one_of(times, coarse_times)
products = st.sampled_from([f"p{i:02d}" for i in range(26)])
plans = st.sampled_from([f"plan-{i:02d}" for i in range(24)])
coupons = st.sampled_from([f"cp{i:02d}" for i in range(13)])

events: st.SearchStrategy[RelationshipEvent] = st.one_of(
    st.builds(followed, any_time),
    st.builds(unfollowed, any_time),
    st.builds(viewed, any_time, products),
    st.builds(cart_added, any_time, products),
    st.builds(chatted, any_time),
    st.builds(coupon_claimed, any_time, coupons),
    st.builds(
        ordered,
        any_time,
        st.sampled_from([f"o{i}" for i in range(5)]),  # few: the same order id comes back
        st.sampled_from([0.0, 9.99, 100.0, 1234.5]),
        st.lists(products, min_size=1, max_size=4),
    ),
    st.builds(sent, any_time, plans),
    st.builds(read, any_time, plans),
    st.builds(clicked, any_time, plans),
)


@settings(max_examples=300, deadline=None)
@given(history=st.lists(events, min_size=1, max_size=60), data=st.data())
def test_any_order_with_redeliveries_gives_the_same_relationship(
    history: list[RelationshipEvent], data: st.DataObject
) -> None:
    redelivered = data.draw(st.lists(st.sampled_from(history), max_size=20))
    arrival = data.draw(st.permutations([*history, *redelivered]))
    expected = fold(history)
    assert fold(arrival) == expected
    assert fold(reversed(arrival)) == expected
    assert fold(arrival).model_dump_json() == expected.model_dump_json()


@settings(max_examples=200, deadline=None)
@given(history=st.lists(events, min_size=1, max_size=40))
def test_folding_any_event_again_changes_nothing(history: list[RelationshipEvent]) -> None:
    rel = fold(history)
    for event in history:
        assert evolve(rel, event) == rel


# Orders alone, from few ids: the same order id comes back with other times and amounts,
# which is where the fold has to choose between versions.
orders = st.builds(
    ordered,
    coarse_times,
    st.sampled_from(["o1", "o2", "o3"]),
    st.sampled_from([0.0, 10.0, 25.5]),
    st.lists(products, min_size=1, max_size=2),
)


@settings(max_examples=300, deadline=None)
@given(history=st.lists(orders, min_size=2, max_size=8), data=st.data())
def test_orders_in_any_order_give_the_same_relationship(
    history: list[RelationshipEvent], data: st.DataObject
) -> None:
    arrival = data.draw(st.permutations(history))
    assert fold(arrival) == fold(history)
