"""Policy what-ifs: the same sellers decided under the policy in force and a candidate,
compared. Nothing is published; both decisions start from the same state."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from services.eligibility.domain.decision import standing_after
from services.eligibility.domain.state import EngagementTally, SellerState
from services.policy.domain import Policy

Standing = tuple[str, int | None]  # (access, level)


def label(standing: Standing) -> str:
    access, level = standing
    return f"{access} L{level}" if level is not None else access


def decided(
    state: SellerState,
    effective_month: str,
    tally: EngagementTally | None,
    policy: Policy,
) -> Standing:
    """Access and level the seller would hold after this month's decision."""
    return standing_after(state, effective_month, tally, policy)


@dataclass
class Comparison:
    sellers: int = 0
    transitions: Counter[tuple[Standing, Standing]] = field(default_factory=Counter)
    changed: list[tuple[str, Standing, Standing]] = field(default_factory=list)

    def add(self, seller_id: str, in_force: Standing, candidate: Standing) -> None:
        self.sellers += 1
        self.transitions[(in_force, candidate)] += 1
        if in_force != candidate:
            self.changed.append((seller_id, in_force, candidate))

    @property
    def access_changes(self) -> int:
        return sum(n for (a, b), n in self.transitions.items() if a[0] != b[0])

    @property
    def level_changes(self) -> int:
        return sum(n for (a, b), n in self.transitions.items() if a[1] != b[1])

    def matrix(self) -> dict[str, dict[str, int]]:
        """{in force: {candidate: sellers}}."""
        rows: dict[str, dict[str, int]] = {}
        for (a, b), n in sorted(
            self.transitions.items(), key=lambda t: (label(t[0][0]), label(t[0][1]))
        ):
            rows.setdefault(label(a), {})[label(b)] = n
        return rows
