"""The stored size of a Relationship: one per (seller, customer) pair, a million of them."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from services.customers.domain.relationship import (
    EMPTY,
    MAX_CLAIMED_COUPONS,
    MAX_ORDERED_PRODUCTS,
    MAX_PLANS,
    MAX_RETAINED_ORDERS,
    RelationshipEvent,
    fold,
    from_stored_json,
    to_stored_json,
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

# Microseconds on, so every time is written at its longest.
T0 = utc("2024-05-01T10:00:00.123456")
DAY = timedelta(days=1)


def _id(n: int) -> str:
    return str(uuid.UUID(int=n))  # 36 characters, the longest id the upstream systems use


def test_a_pair_that_only_followed_stores_in_under_64_bytes() -> None:
    stored = to_stored_json(fold([followed(T0)]))
    assert len(stored) <= 64, stored
    assert to_stored_json(EMPTY) == b"{}"


def test_a_typical_active_pair_stores_in_under_1_kb() -> None:
    # Two orders of three products, a view, a cart add, a chat, a coupon, two plans
    # received and one read — ids are UUIDs.
    events: list[RelationshipEvent] = [
        followed(T0),
        ordered(T0, _id(1), 250.0, [_id(11), _id(12)]),
        ordered(T0 + 40 * DAY, _id(2), 99.5, [_id(13)]),
        viewed(T0 + 50 * DAY),
        cart_added(T0 + 50 * DAY),
        chatted(T0),
        coupon_claimed(T0, _id(21)),
        sent(T0, _id(31)),
        sent(T0 + 7 * DAY, _id(32)),
        read(T0, _id(31)),
    ]
    stored = to_stored_json(fold(events))
    assert len(stored) <= 1024, len(stored)


def test_a_pair_with_every_cap_full_stays_under_32_kb() -> None:
    hour = timedelta(hours=1)
    events: list[RelationshipEvent] = [
        followed(T0),
        unfollowed(T0),
        viewed(T0),
        cart_added(T0),
        chatted(T0),
    ]
    for n in range(MAX_RETAINED_ORDERS + 10):
        events.append(ordered(T0 + n * hour, _id(n), 123_456.78, [_id(10_000 + n)]))
    for n in range(max(MAX_PLANS, MAX_CLAIMED_COUPONS) + 5):
        at = T0 + n * hour
        events += [sent(at, _id(20_000 + n)), read(at, _id(30_000 + n))]
        events += [clicked(at, _id(40_000 + n)), coupon_claimed(at, _id(50_000 + n))]
    rel = fold(events)
    assert len(rel.orders) == MAX_RETAINED_ORDERS
    assert len(rel.ordered_products) == MAX_ORDERED_PRODUCTS
    assert len(to_stored_json(rel)) <= 32 * 1024, len(to_stored_json(rel))


def test_the_stored_form_round_trips_exactly() -> None:
    rel = fold([followed(T0), ordered(T0, "o1", 12.5), sent(T0, "plan-1"), unfollowed(T0 + DAY)])
    assert from_stored_json(to_stored_json(rel)) == rel
    assert from_stored_json(to_stored_json(rel).decode()) == rel
    assert from_stored_json(b"{}") == EMPTY
