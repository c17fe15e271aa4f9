"""Policy what-ifs over a partition's state: the same sellers, two policies, a matrix."""

from __future__ import annotations

from datetime import UTC, datetime

from services.eligibility.domain.what_if import Comparison, decided, label
from services.eligibility.partition_state import PartitionState
from services.policy import load_policy
from tests.unit.eligibility.builders import POLICY, metrics

NOW = datetime(2024, 7, 2, tzinfo=UTC)


def test_a_stricter_policy_moves_sellers_and_the_matrix_counts_them() -> None:
    state = PartitionState(0, load_policy(), lambda: NOW)
    state.on_metrics(metrics("2024-06-01", seller="good", ses=4.8))
    state.on_metrics(metrics("2024-06-01", seller="fair", ses=3.8))
    state.on_metrics(metrics("2024-06-01", seller="slow", responded=10))
    strict = POLICY.model_copy(
        update={"eligibility": POLICY.eligibility.model_copy(update={"ses_min": 4.0})}
    )
    comparison = Comparison()
    for seller_id, seller in sorted(state.sellers.items()):
        comparison.add(
            seller_id,
            decided(seller, "2024-07", None, POLICY),
            decided(seller, "2024-07", None, strict),
        )
    assert comparison.sellers == 3
    assert comparison.access_changes == 1
    assert comparison.level_changes == 1
    assert comparison.changed == [("fair", ("active", 2), ("not_enrolled", None))]
    assert comparison.matrix() == {
        "active L2": {"active L2": 1, "not_enrolled": 1},
        "not_enrolled": {"not_enrolled": 1},
    }
    assert all(s.evaluated is None for s in state.sellers.values())  # nothing decided


def test_a_seller_already_decided_is_compared_from_the_same_basis() -> None:
    state = PartitionState(0, load_policy(), lambda: NOW)
    state.on_metrics(metrics("2024-06-01", seller="s1", ses=3.8))
    [status] = state.evaluate("TH", "2024-07")
    assert label((status.access, status.level)) == "active L2"
    seller = state.sellers["s1"]
    strict = POLICY.model_copy(
        update={"eligibility": POLICY.eligibility.model_copy(update={"ses_min": 4.0})}
    )
    assert decided(seller, "2024-07", None, POLICY) == ("active", 2)
    # Revising July starts from July's basis (not enrolled), not from the July decision.
    assert decided(seller, "2024-07", None, strict) == ("not_enrolled", None)
