import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.seller import AppealDecided, AppealSubmitted
from services.eligibility.domain.decision import decide_appeal, evaluate, submit_appeal
from services.eligibility.domain.state import (
    EngagementTally,
    MessageMarks,
    SellerState,
    Tally,
    mark,
    record_metrics,
)
from services.shared.rejection import Rejected
from tests.unit.eligibility.builders import AT, POLICY, metrics

GOOD = dict(received=100, responded=90, ses=4.0, violations=0)
BAD = dict(received=100, responded=10, ses=4.0, violations=0)


def _seller(*events) -> SellerState:
    state = SellerState(seller_id="s1")
    for event in events:
        state = record_metrics(state, event) or state
    return state


def _tally(month: str, delivered: int, read: int, blocked: int) -> EngagementTally:
    return EngagementTally(windows={month: Tally(delivered=delivered, read=read, blocked=blocked)})


def test_newly_eligible_seller_starts_active_at_level_2() -> None:
    out = evaluate(
        _seller(metrics("2024-06-01", **GOOD)),
        "2024-07",
        _tally("2024-07", 1000, 900, 0),
        POLICY,
        AT,
    )
    s = out.status
    assert s is not None
    assert (s.access, s.eligible, s.level, s.weekly_quota) == ("active", True, 2, 3)
    assert s.reason == "monthly_evaluation"
    assert (s.window_start.isoformat(), s.window_end.isoformat()) == ("2024-05-22", "2024-06-22")
    assert s.policy_version == POLICY.version
    assert [c.name for c in s.criteria] == ["response_rate_12h", "ses", "violation_points"]


def test_active_seller_gets_its_level_recomputed() -> None:
    first = evaluate(_seller(metrics("2024-06-01", **GOOD)), "2024-07", None, POLICY, AT).state
    state = record_metrics(first, metrics("2024-07-01", **GOOD))
    assert state is not None
    out = evaluate(state, "2024-08", _tally("2024-08", 1000, 450, 2), POLICY, AT)
    assert out.status is not None
    assert (out.status.access, out.status.level, out.status.weekly_quota) == ("active", 5, 10)
    assert out.status.performance is not None
    assert out.status.performance.read_rate == 0.45


def test_active_seller_with_too_little_data_keeps_its_level() -> None:
    first = evaluate(_seller(metrics("2024-06-01", **GOOD)), "2024-07", None, POLICY, AT).state
    first = first.model_copy(update={"last_active_level": 4})
    state = record_metrics(first, metrics("2024-07-01", **GOOD))
    assert state is not None
    out = evaluate(state, "2024-08", _tally("2024-08", 99, 99, 0), POLICY, AT)
    assert out.status is not None
    assert out.status.level == 4


@pytest.mark.parametrize(("was_active", "access"), [(True, "suspended"), (False, "not_enrolled")])
def test_not_eligible_is_suspended_or_not_enrolled_with_quota_0(
    was_active: bool, access: str
) -> None:
    state = _seller(metrics("2024-06-01", **(GOOD if was_active else BAD)))
    state = evaluate(state, "2024-07", None, POLICY, AT).state
    state = record_metrics(state, metrics("2024-07-01", **BAD)) or state
    out = evaluate(state, "2024-08", None, POLICY, AT)
    assert out.status is not None
    assert (out.status.access, out.status.eligible, out.status.weekly_quota, out.status.level) == (
        access,
        False,
        0,
        None,
    )


def test_no_data_at_all_is_not_eligible() -> None:
    state = SellerState(seller_id="s1", market="TH")
    out = evaluate(state, "2024-07", None, POLICY, AT)
    assert out.status is not None
    assert out.status.access == "not_enrolled"
    assert all(c.note == "no_data" for c in out.status.criteria)


def test_repeated_tick_emits_nothing_when_nothing_changed() -> None:
    state = _seller(metrics("2024-06-01", **GOOD))
    once = evaluate(state, "2024-07", _tally("2024-07", 500, 100, 0), POLICY, AT)
    twice = evaluate(once.state, "2024-07", _tally("2024-07", 500, 100, 0), POLICY, AT)
    assert once.status is not None
    assert twice.status is None
    assert twice.state == once.state


def test_repeated_tick_after_a_late_correction_revises_from_the_same_basis() -> None:
    state = _seller(metrics("2024-06-01", **BAD, at=datetime(2024, 6, 2, tzinfo=UTC)))
    first = evaluate(state, "2024-07", None, POLICY, AT)
    assert first.status is not None
    assert first.status.access == "not_enrolled"
    corrected = record_metrics(
        first.state, metrics("2024-06-01", **GOOD, at=datetime(2024, 7, 2, tzinfo=UTC))
    )
    assert corrected is not None
    revised = evaluate(corrected, "2024-07", None, POLICY, AT)
    assert revised.status is not None
    # The basis is the standing before July, so the revision is a new enrolment (level 2).
    assert (revised.status.access, revised.status.level, revised.status.reason) == (
        "active",
        2,
        "revised_evaluation",
    )
    assert revised.status.event_id != first.status.event_id


def test_an_older_tick_leaves_a_decided_seller_alone_but_backfills_a_new_one() -> None:
    decided = evaluate(_seller(metrics("2024-07-01", **GOOD)), "2024-08", None, POLICY, AT).state
    assert evaluate(decided, "2024-07", None, POLICY, AT).status is None
    backfilled = evaluate(_seller(metrics("2024-06-01", **GOOD)), "2024-07", None, POLICY, AT)
    assert backfilled.status is not None
    assert backfilled.status.effective_month == "2024-07"


def test_a_seller_without_a_market_is_not_decided() -> None:
    assert evaluate(SellerState(seller_id="s1"), "2024-07", None, POLICY, AT).status is None


def test_status_ids_are_deterministic_per_revision() -> None:
    state = _seller(metrics("2024-06-01", **GOOD))
    a = evaluate(state, "2024-07", None, POLICY, AT).status
    b = evaluate(state, "2024-07", None, POLICY, datetime(2030, 1, 1, tzinfo=UTC)).status
    assert a is not None
    assert b is not None
    assert a.event_id == b.event_id


def test_market_of_a_seller_does_not_change() -> None:
    state = _seller(metrics("2024-06-01", market="TH"))
    with pytest.raises(Rejected, match="belongs to market TH"):
        record_metrics(state, metrics("2024-06-02", market="US"))


@given(st.permutations(range(6)), st.lists(st.integers(0, 5), max_size=4))
def test_reports_settle_the_same_in_any_order_with_duplicates(
    order: list[int], dups: list[int]
) -> None:
    events = [
        metrics(
            f"2024-06-0{1 + n % 3}",
            ses=float(n % 5),
            at=datetime(2024, 6, 10, n, tzinfo=UTC),
            event_id=uuid.UUID(int=n + 1),
        )
        for n in range(6)
    ]
    shuffled = [events[i] for i in order] + [events[i] for i in dups]
    assert _seller(*shuffled).reports == _seller(*events).reports


# Appeals


def _suspended() -> SellerState:
    state = _seller(metrics("2024-06-01", **GOOD))
    state = evaluate(state, "2024-07", None, POLICY, AT).state.model_copy(
        update={"last_active_level": 4}
    )
    state = record_metrics(state, metrics("2024-07-01", **BAD)) or state
    out = evaluate(state, "2024-08", None, POLICY, AT)
    assert out.status is not None
    assert out.status.access == "suspended"
    return out.state


def _submitted(appeal: str = "a1") -> AppealSubmitted:
    return AppealSubmitted(
        event_id=uuid.uuid4(),
        occurred_at=AT,
        appeal_id=appeal,
        seller_id="s1",
        account_id="owner",
        text="please",
    )


def _decided(approved: bool, appeal: str = "a1") -> AppealDecided:
    return AppealDecided(
        event_id=uuid.uuid4(),
        occurred_at=AT,
        appeal_id=appeal,
        seller_id="s1",
        approved=approved,
        decided_by="ops",
        note=None,
    )


def test_approved_appeal_reinstates_at_the_last_level_until_the_next_evaluation() -> None:
    state = submit_appeal(_suspended(), _submitted())
    assert state is not None
    assert state.open_appeal == "a1"
    out = decide_appeal(state, _decided(True), POLICY, AT)
    assert out.status is not None
    assert (out.status.access, out.status.level, out.status.weekly_quota, out.status.reason) == (
        "active",
        4,
        7,
        "appeal_approved",
    )
    assert out.state.open_appeal is None
    # A redelivered decision changes nothing.
    assert decide_appeal(out.state, _decided(True), POLICY, AT).status is None
    # A re-run of the same month with unchanged inputs does not undo the appeal.
    assert evaluate(out.state, "2024-08", None, POLICY, AT).status is None
    # The next month's evaluation decides afresh: still not eligible → suspended.
    nxt = evaluate(out.state, "2024-09", None, POLICY, AT)
    assert nxt.status is not None
    assert nxt.status.access == "suspended"


def test_approved_appeal_without_a_past_level_gives_level_2() -> None:
    state = _suspended().model_copy(update={"last_active_level": None})
    state = submit_appeal(state, _submitted())
    assert state is not None
    out = decide_appeal(state, _decided(True), POLICY, AT)
    assert out.status is not None
    assert out.status.level == 2


def test_rejected_appeal_changes_nothing_but_closes_it() -> None:
    state = submit_appeal(_suspended(), _submitted())
    assert state is not None
    out = decide_appeal(state, _decided(False), POLICY, AT)
    assert out.status is None
    assert out.state.status == state.status
    assert submit_appeal(out.state, _submitted("a2")) is not None  # a new one may follow


def test_one_open_appeal_at_a_time_and_only_when_suspended() -> None:
    state = submit_appeal(_suspended(), _submitted())
    assert state is not None
    assert submit_appeal(state, _submitted()) is None  # redelivery
    with pytest.raises(Rejected, match="still open"):
        submit_appeal(state, _submitted("a2"))
    active = evaluate(_seller(metrics("2024-06-01", **GOOD)), "2024-07", None, POLICY, AT).state
    with pytest.raises(Rejected, match="only a suspended seller"):
        submit_appeal(active, _submitted())
    with pytest.raises(Rejected, match="not open"):
        decide_appeal(state, _decided(True, "zzz"), POLICY, AT)


# Engagement marks


def test_a_message_read_twice_in_a_window_counts_once() -> None:
    marks = MessageMarks()
    once = mark(marks, "read", "2024-07")
    assert once is not None
    assert mark(once, "read", "2024-07") is None
    assert mark(once, "read", "2024-08") is not None  # read again in the next window counts there


def test_tally_counts_per_window() -> None:
    t = (
        EngagementTally()
        .count("read", "2024-07")
        .count("read", "2024-07")
        .count("delivered", "2024-08")
    )
    assert t.windows["2024-07"].read == 2
    assert t.windows["2024-08"].delivered == 1


@pytest.mark.parametrize(
    ("reports", "tally"),
    [
        ((), None),  # no data: every criterion "no_data"
        ((dict(received=0, responded=0, ses=None, violations=3),), None),  # no chats
        ((dict(received=100, responded=90, ses=4.0, violations=0),), (1000, 450, 2)),
        ((dict(received=100, responded=10, ses=3, violations=20),), (5, 9, 9)),  # rates capped
    ],
)
def test_decisions_built_without_validation_are_what_validation_gives(
    reports: tuple[dict[str, Any], ...], tally: tuple[int, int, int] | None
) -> None:
    """Decisions are built from trusted values (domain/trusted.py): validating them again
    must change nothing, neither the model nor its JSON."""
    state = _seller(*(metrics("2024-06-01", **r) for r in reports))
    state = state.model_copy(update={"market": "TH"})
    counts = _tally("2024-07", *tally) if tally is not None else None
    status = evaluate(state, "2024-07", counts, POLICY, AT).status
    assert status is not None
    again = type(status).model_validate(status.model_dump())
    assert again == status
    assert again.model_dump_json() == status.model_dump_json()
