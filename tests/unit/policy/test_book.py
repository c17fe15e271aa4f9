"""The policy book: SPEC's defaults, per-market overrides (the frequency cap included),
one version per book, and refusal of a bad book at load."""

from __future__ import annotations

import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from services.policy import DEFAULT_POLICY, load_policy, policy_of
from services.policy.domain import policy_book
from services.shared.settings import Settings

pytestmark = pytest.mark.unit


def _document(**markets: dict[str, Any]) -> dict[str, Any]:
    with DEFAULT_POLICY.open("rb") as handle:
        document = tomllib.load(handle)
    document["markets"] = markets
    return document


def test_the_packaged_book_holds_the_specs_defaults() -> None:
    book = load_policy()
    policy = book.default
    assert book.version == policy.version
    assert policy.version
    rules = policy.eligibility
    assert (rules.response_rate_min, rules.ses_min, rules.violation_points_below) == (0.85, 3.5, 12)
    assert rules.extra == ()
    assert (policy.level.min_delivered, policy.level.new_seller_level) == (100, 2)
    assert [row.level for row in policy.level.rows] == [1, 5, 4, 3, 2]
    assert {level: policy.weekly_quota(level) for level in range(1, 6)} == {
        1: 1,
        2: 3,
        3: 5,
        4: 7,
        5: 10,
    }
    assert (policy.frequency_cap.max_messages, policy.frequency_cap.window) == (
        2,
        timedelta(days=7),
    )
    assert book.markets == {}
    assert book.for_market("TH") == book.for_market(None) == policy


def test_a_market_overrides_the_frequency_cap_and_inherits_the_rest() -> None:
    book = policy_book(_document(VN={"frequency_cap": {"max_messages": 1}}))
    vietnam, default = book.for_market("VN"), book.default
    assert (vietnam.frequency_cap.max_messages, vietnam.frequency_cap.window_days) == (1, 7)
    assert vietnam.version == f"{default.version}+VN"
    assert (vietnam.eligibility, vietnam.level, vietnam.quota) == (
        default.eligibility,
        default.level,
        default.quota,
    )
    assert book.for_market("TH").frequency_cap.max_messages == 2
    assert book.version == default.version


def test_an_override_may_name_its_own_version() -> None:
    book = policy_book(
        _document(US={"version": "us-7", "frequency_cap": {"window_days": 14}}),
    )
    assert book.for_market("US").version == "us-7"
    assert book.for_market("US").frequency_cap.window == timedelta(days=14)


@pytest.mark.parametrize(
    ("markets", "names"),
    [
        ({"VN": {"frequency_cap": {"max_messages": 0}}}, "max_messages"),
        ({"VN": {"frequency_cap": {"window_days": 0}}}, "window_days"),
        ({"VN": {"frequency_cap": {"per_day": 1}}}, "per_day"),
        ({"XX": {"frequency_cap": {"max_messages": 1}}}, "XX"),
    ],
)
def test_a_bad_book_is_refused_naming_the_problem(
    markets: dict[str, dict[str, Any]], names: str
) -> None:
    with pytest.raises(ValueError, match=names):
        policy_book(_document(**markets))


def test_a_book_without_a_frequency_cap_is_refused() -> None:
    document = _document()
    del document["frequency_cap"]
    with pytest.raises(ValidationError, match="frequency_cap"):
        policy_book(document)


def test_the_settings_name_the_book(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    text = DEFAULT_POLICY.read_text().replace('version = "', 'version = "custom-', 1)
    path.write_text(text + "\n[markets.ID.frequency_cap]\nmax_messages = 3\n")
    book = policy_of(Settings(policy=path))
    assert book.version.startswith("custom-")
    assert book.for_market("ID").frequency_cap.max_messages == 3
    assert policy_of(Settings()) == load_policy()
