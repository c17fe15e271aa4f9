"""The (plan, customer) pairs already fired, as committed on crm.plan-firings.

Kept per plan, so a plan that stopped (cancelled and ended are final) is forgotten whole:
it never fires again, so its pairs need no remembering, and the set stays the size of the
live plans' firings.
"""

from __future__ import annotations

from collections import defaultdict


class FiredPairs:
    def __init__(self) -> None:
        self._by_plan: dict[str, set[str]] = defaultdict(set)

    def __len__(self) -> int:
        return sum(len(customers) for customers in self._by_plan.values())

    def __contains__(self, pair: object) -> bool:
        if not isinstance(pair, tuple) or len(pair) != 2:
            return False
        plan_id, customer_id = pair
        customers = self._by_plan.get(plan_id)
        return customers is not None and customer_id in customers

    def add(self, plan_id: str, customer_id: str) -> None:
        self._by_plan[plan_id].add(customer_id)

    def keep_only(self, plan_ids: set[str]) -> None:
        """Forget every plan but these."""
        for plan_id in [p for p in self._by_plan if p not in plan_ids]:
            del self._by_plan[plan_id]

    def forget(self, plan_ids: set[str]) -> None:
        for plan_id in plan_ids:
            self._by_plan.pop(plan_id, None)
