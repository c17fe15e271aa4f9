"""The customer's profile: the latest snapshot wins, whatever order snapshots arrive in."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.customer import CustomerProfileUpdated
from services.customers.domain.profile import Profile, evolve_profile, profile_from
from tests.unit.customers.builders import profile_updated, utc

pytestmark = pytest.mark.unit

T0 = utc("2024-05-01T00:00")


def test_a_snapshot_becomes_a_profile() -> None:
    profile = profile_from(profile_updated(T0, region="JK", city="Jakarta", gender="f"))
    assert profile == Profile(
        region="JK", city="Jakarta", gender="f", age_band=None, language="id", updated_at=T0
    )
    assert profile.attribute("region") == "JK"
    assert profile.attribute("age_band") is None


def test_the_later_snapshot_wins_in_either_order() -> None:
    older, newer = profile_updated(T0, region="JB"), profile_updated(T0 + timedelta(days=1))
    assert evolve_profile(evolve_profile(None, older), newer).region == "JK"
    assert evolve_profile(evolve_profile(None, newer), older).region == "JK"


def test_a_snapshot_is_whole_so_a_later_null_forgets_the_value() -> None:
    first = evolve_profile(None, profile_updated(T0, city="Jakarta"))
    assert evolve_profile(first, profile_updated(T0 + timedelta(hours=1), city=None)).city is None


def test_two_snapshots_at_one_instant_settle_the_same_way_in_either_order() -> None:
    a, b = profile_updated(T0, region="JB"), profile_updated(T0, region="JK")
    assert evolve_profile(evolve_profile(None, a), b) == evolve_profile(evolve_profile(None, b), a)


def test_only_profile_attributes_can_be_asked_for() -> None:
    with pytest.raises(ValueError, match="'updated_at' is not a profile attribute"):
        profile_from(profile_updated(T0)).attribute("updated_at")


snapshots = st.builds(
    profile_updated,
    st.integers(0, 3).map(lambda h: T0 + timedelta(hours=h)),
    st.sampled_from(["JK", "JB", None]),
    st.sampled_from(["Jakarta", "Bandung", None]),
    st.sampled_from(["f", "m", None]),
)


@given(st.lists(snapshots, min_size=1, max_size=8), st.randoms())
def test_any_arrival_order_gives_the_same_profile(
    history: list[CustomerProfileUpdated], random: object
) -> None:
    shuffled = list(history)
    random.shuffle(shuffled)  # type: ignore[attr-defined]
    profile, other = None, None
    for event in history:
        profile = evolve_profile(profile, event)
    for event in shuffled:
        other = evolve_profile(other, event)
    assert profile == other
    assert profile is not None
    assert profile.updated_at == max(event.occurred_at for event in history)
