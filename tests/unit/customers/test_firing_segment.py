"""An automated plan's segment judged at the firing instant (domain/firing_segment.py):
the daily rules with the cut-off moved from a midnight to the instant, in several zones."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from services.customers.domain.conditions import Condition
from services.customers.domain.cutoff import cutoff, instant_cutoff
from services.customers.domain.firing_segment import FiringSegment, in_segment_at
from services.customers.domain.profile import evolve_profile
from services.customers.domain.relationship import EMPTY, Relationship
from services.customers.domain.segments import high_value_threshold, top_spenders
from tests.unit.customers.builders import (
    cart_added,
    followed,
    local,
    ordered,
    profile_updated,
    relationship,
    unfollowed,
)

pytestmark = pytest.mark.unit

TICK = timedelta(microseconds=1)
MARKETS = ["TH", "US", "GB", "PH"]


def builtin(segment_id: str, threshold: float | None = None) -> FiringSegment:
    return FiringSegment(segment_id=segment_id, high_value_threshold=threshold)


def custom(*conditions: dict[str, object]) -> FiringSegment:
    return FiringSegment.custom("seg-1", [Condition.model_validate(c) for c in conditions])


def judged(segment: FiringSegment, rel: Relationship, at: datetime, market: str) -> bool:
    return in_segment_at(segment, rel, None, instant_cutoff(at, market))


# --- the cut-off of an instant --------------------------------------------------------


@pytest.mark.parametrize("market", MARKETS)
def test_the_instant_cutoff_counts_facts_at_the_instant_and_takes_its_local_date(
    market: str,
) -> None:
    # 00:30 local on the 15th is the 14th (or the 15th) in UTC depending on the zone; the
    # day is always the local one.
    at = local(market, "2024-03-15", "00:30")
    cut = instant_cutoff(at, market)
    assert cut.day == date(2024, 3, 15)
    assert cut.at == at.astimezone(UTC) + TICK
    assert cut.days_back(7) == cutoff(date(2024, 3, 8), market).at
    assert cut.days_since(local(market, "2024-03-14", "23:59")) == 1
    assert cut.days_since(local(market, "2024-03-15", "00:00")) == 0


def test_an_instant_cutoff_needs_an_aware_instant_and_a_known_market() -> None:
    with pytest.raises(ValueError, match="aware"):
        instant_cutoff(datetime(2024, 3, 15, 12), "TH")
    with pytest.raises(ValueError, match="unknown market"):
        instant_cutoff(datetime(2024, 3, 15, 12, tzinfo=UTC), "XX")


# --- built-in rules at the instant ----------------------------------------------------


@pytest.mark.parametrize("market", MARKETS)
def test_someone_who_followed_minutes_before_the_firing_is_a_follower_then(market: str) -> None:
    fired_at = local(market, "2024-06-30", "10:05")
    rel = relationship(followed(fired_at - timedelta(minutes=5)))
    segment = builtin("followers_not_purchased")
    assert judged(segment, rel, fired_at, market)
    # The day's membership (as of 00:00) could not have had them.
    assert not judged(segment, rel, local(market, "2024-06-30", "00:00") - TICK, market)
    # A follow at the very instant counts; one a microsecond later does not.
    assert judged(segment, relationship(followed(fired_at)), fired_at, market)
    assert not judged(segment, relationship(followed(fired_at + TICK)), fired_at, market)


@pytest.mark.parametrize("market", MARKETS)
def test_facts_after_the_instant_do_not_count(market: str) -> None:
    fired_at = local(market, "2024-06-30", "10:00")
    follower = relationship(followed(fired_at - timedelta(days=3)))
    bought_later = relationship(
        followed(fired_at - timedelta(days=3)), ordered(fired_at + timedelta(minutes=1))
    )
    segment = builtin("followers_not_purchased")
    assert judged(segment, follower, fired_at, market)
    assert judged(segment, bought_later, fired_at, market)
    bought_before = relationship(followed(fired_at - timedelta(days=3)), ordered(fired_at))
    assert not judged(segment, bought_before, fired_at, market)
    left = relationship(followed(fired_at - timedelta(days=3)), unfollowed(fired_at - TICK))
    assert not judged(segment, left, fired_at, market)


@pytest.mark.parametrize("market", MARKETS)
def test_the_last_n_days_run_from_local_midnight_n_days_before_the_instants_date(
    market: str,
) -> None:
    # new_customers: first order in the last 30 days. Fired on 2024-06-30 at 18:00 local,
    # the window opens at 2024-05-31 00:00 local (not 30 × 24 h before the instant).
    fired_at = local(market, "2024-06-30", "18:00")
    segment = builtin("new_customers")
    assert judged(segment, relationship(ordered(local(market, "2024-05-31"))), fired_at, market)
    too_early = relationship(ordered(local(market, "2024-05-31") - TICK))
    assert not judged(segment, too_early, fired_at, market)
    assert judged(segment, relationship(ordered(fired_at - TICK)), fired_at, market)


def test_a_dst_change_inside_the_window_is_a_calendar_day_not_24_hours() -> None:
    # US: 2024-03-10 is 23 hours long. lapsed_customers: ordered before, but not in the
    # last 90 days; the window opens at 00:00 local 90 days before, whatever the clock did.
    fired_at = local("US", "2024-06-01", "09:00")
    opens = local("US", "2024-03-03")
    segment = builtin("lapsed_customers")
    assert judged(segment, relationship(ordered(opens - TICK)), fired_at, "US")
    assert not judged(segment, relationship(ordered(opens)), fired_at, "US")


@pytest.mark.parametrize("market", MARKETS)
def test_a_cart_abandoner_at_the_reminder_is_one_who_did_not_order_since_the_cart(
    market: str,
) -> None:
    added = local(market, "2024-06-29", "20:00")
    due = added + timedelta(hours=24)
    segment = builtin("cart_abandoners")
    assert judged(segment, relationship(cart_added(added)), due, market)
    bought = relationship(cart_added(added), ordered(added + timedelta(hours=1)))
    assert not judged(segment, bought, due, market)
    assert not judged(segment, EMPTY, due, market)


# --- high_value_customers at a firing -------------------------------------------------


def test_high_value_at_a_firing_is_spend_above_the_latest_daily_threshold() -> None:
    spend = {"a": 900.0, "b": 500.0, "c": 500.0, "d": 100.0}
    # 4 spenders, 1 place: the first left out spends 500.
    assert high_value_threshold(spend) == 500.0
    assert top_spenders(spend) == {"a"}
    fired_at = local("TH", "2024-06-30", "12:00")
    segment = builtin("high_value_customers", threshold=500.0)
    assert judged(segment, relationship(ordered(fired_at - TICK, gmv=500.5)), fired_at, "TH")
    assert not judged(segment, relationship(ordered(fired_at - TICK, gmv=500.0)), fired_at, "TH")
    # Spend older than the 365-day window does not count.
    old = relationship(ordered(local("TH", "2023-06-30") - TICK, gmv=9000.0))
    assert not judged(segment, old, fired_at, "TH")


def test_high_value_threshold_is_zero_when_every_spender_has_a_place() -> None:
    assert high_value_threshold({"a": 10.0}) == 0.0
    assert high_value_threshold({}) == 0.0
    fired_at = local("ID", "2024-06-30", "12:00")
    anyone = builtin("high_value_customers", threshold=0.0)
    assert judged(anyone, relationship(ordered(fired_at, gmv=1.0)), fired_at, "ID")
    assert not judged(anyone, relationship(ordered(fired_at, gmv=0.0)), fired_at, "ID")


def test_high_value_before_any_recompute_has_no_members() -> None:
    fired_at = local("TH", "2024-06-30", "12:00")
    rel = relationship(ordered(fired_at, gmv=10_000.0))
    assert not judged(builtin("high_value_customers"), rel, fired_at, "TH")


# --- custom segments at the instant ---------------------------------------------------


@pytest.mark.parametrize("market", MARKETS)
def test_custom_conditions_are_judged_at_the_instant(market: str) -> None:
    fired_at = local(market, "2024-06-30", "09:00")
    segment = custom(
        {"field": "is_follower", "op": "is_true", "value": None},
        {"field": "days_since_last_cart_add", "op": "lte", "value": 0},
    )
    # Followed and added to cart today, minutes before: days since the cart add is 0.
    today = relationship(
        followed(fired_at - timedelta(minutes=10)), cart_added(fired_at - timedelta(minutes=9))
    )
    assert judged(segment, today, fired_at, market)
    # Yesterday's cart add is 1 day ago.
    yesterday = relationship(
        followed(fired_at - timedelta(days=2)), cart_added(local(market, "2024-06-29", "23:59"))
    )
    assert not judged(segment, yesterday, fired_at, market)


def test_custom_attribute_conditions_read_the_current_profile() -> None:
    fired_at = local("ID", "2024-06-30", "09:00")
    segment = custom({"field": "region", "op": "in", "value": ["JK", "JB"]})
    rel = relationship(followed(fired_at - timedelta(days=1)))
    jakarta = evolve_profile(None, profile_updated(fired_at, region="JK"))
    bali = evolve_profile(None, profile_updated(fired_at, region="BA"))
    cut = instant_cutoff(fired_at, "ID")
    assert in_segment_at(segment, rel, jakarta, cut)
    assert not in_segment_at(segment, rel, bali, cut)
    assert not in_segment_at(segment, rel, None, cut)


def test_a_deleted_custom_segment_has_no_members() -> None:
    fired_at = local("TH", "2024-06-30", "09:00")
    gone = FiringSegment.custom("seg-gone", None)
    assert not judged(gone, relationship(followed(fired_at - TICK)), fired_at, "TH")
