"""A partition's state in memory: the batch fold, its changelog and its restore."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from schemas.seller import AppealDecided, AppealSubmitted
from services.eligibility.partition_state import PartitionState
from services.policy import load_policy
from tests.unit.eligibility.builders import metrics

AT = datetime(2024, 6, 22, 5, 0, tzinfo=UTC)  # June 21 in LA: the July window


def _state() -> PartitionState:
    return PartitionState(0, load_policy(), lambda: datetime(2024, 8, 1, tzinfo=UTC))


def _restored(changelog: list[tuple[bytes, bytes | None]]) -> PartitionState:
    state = _state()
    for key, value in changelog:
        state.restore(key, value)
    state.settle()
    return state


def test_engagement_before_the_market_is_known_waits_then_counts() -> None:
    state = _state()
    state.on_engagement("s1", "m1", "delivered", AT)
    state.on_engagement("s1", "m1", "read", AT)
    state.on_engagement("s1", "m1", "read", AT)
    assert state.tally("s1", "2024-07") is None
    assert len(state.waiting["s1"]) == 3
    first = state.changes()
    assert [k for k, _ in first] == [b"m:0.0"]  # one chunk, no rewrite of a seller row
    state.on_metrics(metrics("2024-06-01", market="US"))
    tally = state.tally("s1", "2024-07")
    assert tally is not None
    assert (tally.windows["2024-07"].delivered, tally.windows["2024-07"].read) == (1, 1)
    assert "s1" not in state.waiting
    second = state.changes()
    # The waiting chunk is deleted in the same batch that counted its events.
    assert (b"m:0.0", None) in second
    restored = _restored(first + second)
    assert restored.tally("s1", "2024-07") == tally
    assert restored.waiting == {}


def test_re_applying_a_batch_changes_no_count() -> None:
    state = _state()
    state.on_metrics(metrics("2024-06-01", market="TH"))
    for _ in range(2):  # redelivered
        for n in range(5):
            state.on_engagement("s1", f"m{n}", "delivered", datetime(2024, 6, 10, tzinfo=UTC))
            state.on_engagement("s1", f"m{n}", "read", datetime(2024, 6, 11, tzinfo=UTC))
    changelog = state.changes()
    tally = state.tally("s1", "2024-07")
    assert tally is not None
    assert tally.windows["2024-07"].delivered == 5
    # Restoring the same records twice (an aborted batch re-done) gives the same state.
    again = _restored(changelog + changelog)
    assert again.tally("s1", "2024-07") == tally


def test_a_decision_expires_the_windows_it_can_no_longer_revisit() -> None:
    state = _state()
    state.on_metrics(metrics("2024-06-01", market="TH"))
    state.on_engagement("s1", "m1", "delivered", datetime(2024, 6, 1, tzinfo=UTC))  # July
    state.on_engagement("s1", "m2", "delivered", datetime(2024, 7, 1, tzinfo=UTC))  # August
    changelog = state.changes()
    assert [s.access for s in state.evaluate("TH", "2024-07")] == ["active"]
    assert set(state.marks["s1"]) == {"2024-07", "2024-08"}  # July can still be revised
    changelog += state.changes()
    state.evaluate("TH", "2024-08")
    assert set(state.marks["s1"]) == {"2024-08"}
    # Late engagement for July is not kept: no decision can read it.
    state.on_engagement("s1", "m3", "read", datetime(2024, 6, 2, tzinfo=UTC))
    assert set(state.marks["s1"]) == {"2024-08"}
    changelog += state.changes()
    restored = _restored(changelog)
    assert set(restored.marks["s1"]) == {"2024-08"}
    assert restored.sellers == state.sellers


def test_evaluation_round_trips_through_the_changelog() -> None:
    state = _state()
    state.on_metrics(metrics("2024-06-01", market="TH", event_id=uuid.uuid4()))
    assert [s.access for s in state.evaluate("TH", "2024-07")] == ["active"]
    restored = _restored(state.changes())
    assert restored.evaluate("TH", "2024-07") == []  # unchanged: nothing to publish
    assert restored.evaluate("US", "2024-07") == []  # another market's tick


def test_an_approved_appeal_keeps_its_own_status_through_the_changelog() -> None:
    state = _state()
    state.on_metrics(metrics("2024-05-25", market="TH"))
    state.evaluate("TH", "2024-07")
    state.on_metrics(metrics("2024-06-25", market="TH", violations=40))
    [suspended] = state.evaluate("TH", "2024-08")
    assert suspended.access == "suspended"
    decided = _restored(state.changes())
    assert decided.sellers["s1"].status == decided.sellers["s1"].evaluated == suspended
    at = datetime(2024, 8, 2, tzinfo=UTC)
    state.on_appeal_submitted(
        AppealSubmitted(
            event_id=uuid.uuid4(),
            occurred_at=at,
            appeal_id="a1",
            seller_id="s1",
            account_id="owner",
            text="please",
        )
    )
    reinstated = state.on_appeal_decided(
        AppealDecided(
            event_id=uuid.uuid4(),
            occurred_at=at,
            appeal_id="a1",
            seller_id="s1",
            approved=True,
            decided_by="ops",
            note=None,
        )
    )
    assert reinstated is not None
    assert reinstated.access == "active"
    restored = _restored(state.changes())
    assert restored.sellers["s1"].status == reinstated
    assert restored.sellers["s1"].evaluated == suspended
