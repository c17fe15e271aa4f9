"""Folding a pair's events into a Relationship: each event's effect, redelivery, order."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from schemas.engagement import MessageDelivered
from services.customers.domain.relationship import (
    EMPTY,
    MAX_CLAIMED_COUPONS,
    MAX_ORDERED_PRODUCTS,
    MAX_PLANS,
    MAX_RETAINED_ORDERS,
    ORDER_RETENTION,
    Relationship,
    evolve,
    fold,
    remember,
)
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

T0 = utc("2024-05-01T10:00")
DAY = timedelta(days=1)
BANGKOK = timezone(timedelta(hours=7))


@pytest.mark.parametrize(
    ("event", "field", "expected"),
    [
        (followed(T0), "followed_at", T0),
        (unfollowed(T0), "unfollowed_at", T0),
        (viewed(T0), "last_view_at", T0),
        (cart_added(T0), "last_cart_add_at", T0),
        (chatted(T0), "last_chat_at", T0),
        (coupon_claimed(T0, "cp9"), "claimed_coupons", {"cp9": T0}),
        (sent(T0, "plan-7"), "received_plans", {"plan-7": T0}),
        (read(T0, "plan-7"), "read_plans", {"plan-7": T0}),
        (clicked(T0, "plan-7"), "clicked_plans", {"plan-7": T0}),
        (ordered(T0, products=["p1", "p2"]), "ordered_products", {"p1": T0, "p2": T0}),
        (ordered(T0), "first_order_at", T0),
    ],
)
def test_each_event_sets_its_field(event: object, field: str, expected: object) -> None:
    rel = evolve(EMPTY, event)  # type: ignore[arg-type]
    assert getattr(rel, field) == expected
    untouched = {name for name in Relationship.model_fields if name != field}
    changed = {name for name in untouched if getattr(rel, name) != getattr(EMPTY, name)}
    assert changed <= {"orders", "ordered_products", "first_order_at"}  # an order sets three


def test_times_are_kept_in_utc_whatever_offset_they_came_in() -> None:
    rel = fold([viewed(datetime(2024, 5, 1, 17, tzinfo=BANGKOK))])
    assert rel.last_view_at == T0
    assert rel.last_view_at is not None
    assert rel.last_view_at.utcoffset() == timedelta(0)
    assert '"last_view_at":"2024-05-01T10:00:00Z"' in rel.model_dump_json()


def test_latest_times_win_whatever_the_arrival_order() -> None:
    events = [viewed(T0), viewed(T0 + DAY), chatted(T0 + 2 * DAY), chatted(T0)]
    assert fold(events) == fold(reversed(events))
    assert fold(events).last_view_at == T0 + DAY
    assert fold(events).last_chat_at == T0 + 2 * DAY


@pytest.mark.parametrize(
    ("events", "follower"),
    [
        ([followed(T0)], True),
        ([followed(T0), unfollowed(T0 + DAY)], False),
        ([unfollowed(T0 + DAY), followed(T0)], False),
        ([followed(T0), unfollowed(T0 + DAY), followed(T0 + 2 * DAY)], True),
        # A follow and an unfollow at the same instant leave the customer not following.
        ([followed(T0), unfollowed(T0)], False),
        ([unfollowed(T0)], False),
    ],
)
def test_following_is_the_latest_of_follow_and_unfollow(events: list, follower: bool) -> None:
    assert fold(events).is_follower is follower
    assert fold(reversed(events)).is_follower is follower


def test_following_as_of_a_cutoff_ignores_later_follows_and_unfollows() -> None:
    rel = fold([followed(T0), unfollowed(T0 + 2 * DAY)])
    assert not rel.is_follower_at(T0)
    assert rel.is_follower_at(T0 + timedelta(microseconds=1))
    assert rel.is_follower_at(T0 + 2 * DAY)
    assert not rel.is_follower_at(T0 + 2 * DAY + timedelta(microseconds=1))


EVERY_KIND = [
    followed(T0),
    unfollowed(T0),
    viewed(T0),
    cart_added(T0),
    chatted(T0),
    coupon_claimed(T0),
    ordered(T0),
    sent(T0),
    read(T0),
    clicked(T0),
]


@pytest.mark.parametrize("event", EVERY_KIND, ids=lambda event: event.event_type)
def test_folding_an_event_twice_changes_nothing(event: object) -> None:
    once = evolve(fold([ordered(T0 - DAY, "o0"), viewed(T0 - DAY)]), event)  # type: ignore[arg-type]
    assert evolve(once, event) == once  # type: ignore[arg-type]
    assert evolve(once, event).model_dump_json() == once.model_dump_json()  # type: ignore[arg-type]


def test_an_order_counts_once_however_often_it_is_delivered() -> None:
    rel = fold([ordered(T0, "o1"), ordered(T0, "o1"), ordered(T0 + DAY, "o2"), ordered(T0, "o1")])
    assert rel.order_count == 2
    assert rel.spend_between(T0, T0 + 2 * DAY) == 200.0
    assert (rel.first_order_at, rel.last_order_at) == (T0, T0 + DAY)


def test_a_changed_redelivery_keeps_the_later_version_in_either_order() -> None:
    first, corrected = ordered(T0, "o1", gmv=100.0), ordered(T0 + DAY, "o1", gmv=80.0)
    assert fold([first, corrected]) == fold([corrected, first])
    rel = fold([first, corrected])
    assert rel.order_count == 1
    assert [(o.placed_at, o.gmv) for o in rel.orders] == [(T0 + DAY, 80.0)]


def test_orders_are_sorted_by_time_then_id() -> None:
    rel = fold([ordered(T0 + DAY, "a"), ordered(T0, "z"), ordered(T0, "b")])
    assert [order.order_id for order in rel.orders] == ["b", "z", "a"]


def test_orders_older_than_the_horizon_are_archived_but_still_counted() -> None:
    old, recent = ordered(T0, "old", gmv=50.0), ordered(T0 + ORDER_RETENTION + DAY, "new")
    rel = fold([old, recent])
    assert [order.order_id for order in rel.orders] == ["new"]
    assert (rel.archived_order_count, rel.order_count) == (1, 2)
    assert rel.last_archived_order_at == T0
    assert rel.first_order_at == T0
    assert rel.last_order_before(T0 + DAY) == T0
    # The archived order arriving again is not counted twice.
    assert evolve(rel, old) == rel


def test_an_order_exactly_at_the_horizon_is_kept() -> None:
    rel = fold([ordered(T0, "edge"), ordered(T0 + ORDER_RETENTION, "new")])
    assert (len(rel.orders), rel.archived_order_count) == (2, 0)


def test_a_new_order_newer_than_the_archived_ones_is_counted_even_if_late() -> None:
    rel = fold([ordered(T0, "old"), ordered(T0 + 500 * DAY, "new")])
    late = ordered(T0 + 10 * DAY, "late")
    later = evolve(rel, late)
    assert later.order_count == 3
    assert later.archived_order_count == 2  # beyond the horizon, so archived at once
    assert evolve(later, late) == later


def test_documented_exception_a_new_order_older_than_an_archived_one_is_not_counted() -> None:
    # Arrived in time order it counts; arriving after a newer order was archived, it is
    # indistinguishable from a redelivery of that archived order and is not counted.
    events = [ordered(T0 - DAY, "older"), ordered(T0, "old"), ordered(T0 + 500 * DAY, "new")]
    assert fold(events).order_count == 3
    late_order_first_missed = fold([events[1], events[2], events[0]])
    assert late_order_first_missed.order_count == 2
    assert late_order_first_missed.first_order_at == T0 - DAY  # still the first order


def test_at_most_the_cap_of_orders_is_retained_the_rest_archived() -> None:
    events = [
        ordered(T0 + i * timedelta(hours=1), f"o{i:03d}") for i in range(MAX_RETAINED_ORDERS + 5)
    ]
    rel = fold(events)
    assert len(rel.orders) == MAX_RETAINED_ORDERS
    assert rel.archived_order_count == 5
    assert rel.order_count == MAX_RETAINED_ORDERS + 5
    assert rel.orders[0].order_id == "o005"
    assert rel.last_archived_order_at == T0 + 4 * timedelta(hours=1)
    # The documented exception again: newest first, the first order pushed out is archived
    # and every older one after it is taken for a redelivery of it.
    assert fold(reversed(events)).order_count == MAX_RETAINED_ORDERS + 1
    assert fold(reversed(events)).orders == rel.orders


def test_capped_ids_keep_the_most_recent() -> None:
    plans = [sent(T0 + i * DAY, f"plan-{i:02d}") for i in range(MAX_PLANS + 3)]
    rel = fold(plans)
    assert sorted(rel.received_plans) == [f"plan-{i:02d}" for i in range(3, MAX_PLANS + 3)]
    products = [ordered(T0 + i * DAY, f"o{i}", products=[f"p{i:02d}"]) for i in range(25)]
    assert len(fold(products).ordered_products) == MAX_ORDERED_PRODUCTS
    assert "p24" in fold(products).ordered_products
    assert "p04" not in fold(products).ordered_products
    coupons = [coupon_claimed(T0 + i * DAY, f"cp{i:02d}") for i in range(15)]
    assert len(fold(coupons).claimed_coupons) == MAX_CLAIMED_COUPONS


def test_remember_ranks_ties_by_id_and_keeps_the_latest_time_per_id() -> None:
    recent = remember({}, "a", T0, cap=2)
    recent = remember(recent, "b", T0, cap=2)
    recent = remember(recent, "c", T0, cap=2)
    assert recent == {"b": T0, "c": T0}
    assert remember(recent, "b", T0 - DAY, cap=2) == recent
    assert remember(recent, "b", T0 + DAY, cap=2) == {"b": T0 + DAY, "c": T0}


def test_engagement_times_come_from_read_at_and_clicked_at() -> None:
    later = T0 + timedelta(hours=5)
    event = read(T0).model_copy(update={"read_at": later})
    assert fold([event]).read_plans == {"plan-1": later}


def test_events_it_does_not_fold_are_refused() -> None:
    delivered = MessageDelivered.model_validate(
        {
            "event_id": uuid.UUID("7f3c8c9e-2a55-4e0f-9d7e-8a1c3b2d1e00"),
            "occurred_at": T0,
            "message_id": "m1",
            "plan_id": "plan-1",
            "seller_id": "s1",
            "customer_id": "c1",
            "delivered_at": T0,
        }
    )
    with pytest.raises(TypeError, match="does not fold MessageDelivered"):
        evolve(EMPTY, delivered)  # type: ignore[arg-type]


def test_a_relationship_survives_a_json_round_trip() -> None:
    rel = fold([ordered(T0), followed(T0), sent(T0), read(T0), clicked(T0), coupon_claimed(T0)])
    assert Relationship.model_validate_json(rel.model_dump_json()) == rel


def test_an_unknown_field_in_stored_json_is_refused() -> None:
    with pytest.raises(ValueError, match="extra"):
        Relationship.model_validate_json('{"followed_at": null, "surprise": 1}')


def test_queries_before_a_cutoff_count_only_earlier_orders() -> None:
    rel = fold(
        [ordered(T0, "a", 10.0), ordered(T0 + DAY, "b", 20.0), ordered(T0 + 2 * DAY, "c", 30.0)]
    )
    cutoff = T0 + DAY
    assert rel.order_count_before(cutoff) == 1
    assert rel.orders_between(T0, cutoff) == 1
    assert rel.spend_between(T0, T0 + 2 * DAY) == 30.0
    assert rel.last_order_before(cutoff) == T0
    assert rel.last_order_until(cutoff) == T0 + DAY
    assert rel.has_ordered_before(cutoff)
    assert not rel.has_ordered_before(T0)
    assert rel.last_order_before(T0) is None
