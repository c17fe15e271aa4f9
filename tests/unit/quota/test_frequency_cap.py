"""At most two messages from a seller to a customer in any rolling seven days."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.policy import DEFAULT_POLICY, load_policy
from services.policy.domain import policy_book
from services.quota.domain.frequency_cap import (
    CapHistory,
    FrequencyCapPolicy,
    busiest_window,
    decide,
    frequency_cap_for,
)

pytestmark = pytest.mark.unit

DAY = timedelta(days=1)
T0 = datetime(2024, 7, 1, 12, tzinfo=UTC)
BOOK = load_policy()
POLICY = frequency_cap_for(BOOK, None)


def _ask(requests: list[tuple[str, timedelta]], policy: FrequencyCapPolicy = POLICY) -> list[str]:
    history, answers = CapHistory(), []
    for message, offset in requests:
        history, decision = decide(history, message, T0 + offset, policy)
        answers.append(decision.outcome + (" again" if decision.repeated else ""))
    return answers


@pytest.mark.parametrize(
    ("requests", "answers"),
    [
        (
            [("m1", 0 * DAY), ("m2", 1 * DAY), ("m3", 2 * DAY)],
            ["allowed", "allowed", "frequency_capped"],
        ),
        # The 8th day (exactly 7 days after the first) frees a slot, and only one.
        (
            [("m1", 0 * DAY), ("m2", 1 * DAY), ("m3", 7 * DAY), ("m4", 7 * DAY)],
            ["allowed", "allowed", "allowed", "frequency_capped"],
        ),
        (
            [("m1", 0 * DAY), ("m2", 1 * DAY), ("m3", 7 * DAY - timedelta(seconds=1))],
            ["allowed", "allowed", "frequency_capped"],
        ),
        # The same message is answered the same way, whenever it is asked again.
        (
            [("m1", 0 * DAY), ("m1", 0 * DAY), ("m1", 3 * DAY)],
            ["allowed", "allowed again", "allowed again"],
        ),
        (
            [("m1", 0 * DAY), ("m2", 0 * DAY), ("m3", 0 * DAY), ("m3", 30 * DAY)],
            ["allowed", "allowed", "frequency_capped", "frequency_capped again"],
        ),
        # Asked out of time order: a message before two later ones would make a window of three.
        (
            [("m1", 5 * DAY), ("m2", 6 * DAY), ("m3", 0 * DAY), ("m4", -3 * DAY)],
            ["allowed", "allowed", "frequency_capped", "allowed"],
        ),
    ],
)
def test_decisions(requests: list[tuple[str, timedelta]], answers: list[str]) -> None:
    assert _ask(requests) == answers


def test_the_policy_is_data_with_a_version() -> None:
    assert (POLICY.max_messages, POLICY.window, POLICY.version) == (2, 7 * DAY, BOOK.version)
    assert frequency_cap_for(BOOK, "TH") == frequency_cap_for(BOOK, None) == POLICY
    stricter = FrequencyCapPolicy("strict-1", 1, 7 * DAY)
    assert _ask([("m1", 0 * DAY), ("m2", 3 * DAY)], stricter) == ["allowed", "frequency_capped"]
    assert decide(CapHistory(), "m", T0, stricter)[1].policy_version == "strict-1"


def test_a_market_override_of_the_book_caps_that_market_only() -> None:
    with open(DEFAULT_POLICY, "rb") as handle:
        document = tomllib.load(handle)
    document["markets"] = {"VN": {"frequency_cap": {"max_messages": 1}}}
    book = policy_book(document)
    vietnam = frequency_cap_for(book, "VN")
    assert (vietnam.max_messages, vietnam.window, vietnam.version) == (
        1,
        7 * DAY,
        f"{BOOK.version}+VN",
    )
    assert frequency_cap_for(book, "TH") == POLICY
    requests = [("m1", 0 * DAY), ("m2", 3 * DAY)]
    assert _ask(requests, vietnam) == ["allowed", "frequency_capped"]
    assert _ask(requests, POLICY) == ["allowed", "allowed"]


def test_windows_are_real_hours_whatever_the_zone() -> None:
    from zoneinfo import ZoneInfo

    la = ZoneInfo("America/Los_Angeles")
    before_dst = datetime(2024, 3, 9, 12, tzinfo=la)
    # 7 wall-clock days later is only 167 real hours later: still inside the window.
    history, _ = decide(CapHistory(), "m1", before_dst, POLICY)
    history, _ = decide(history, "m2", before_dst + DAY, POLICY)
    _, decision = decide(history, "m3", datetime(2024, 3, 16, 12, tzinfo=la), POLICY)
    assert decision.outcome == "frequency_capped"


times = st.lists(st.integers(0, 30 * 24), max_size=25)


@given(times)
def test_no_seven_day_window_ever_holds_more_than_the_cap(hours: list[int]) -> None:
    history = CapHistory()
    for n, hour in enumerate(hours):
        history, _ = decide(history, f"m{n}", T0 + timedelta(hours=hour), POLICY)
    sent = list(history.sent.values())
    for start in sent:
        assert sum(1 for t in sent if start <= t < start + POLICY.window) <= POLICY.max_messages
    assert busiest_window(sent, T0, POLICY.window) <= POLICY.max_messages
