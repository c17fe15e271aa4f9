"""The plan processor's state: the latest committed plan of every seller on its partitions,
rebuilt from crm.plan-events, and when each needs the processor's attention.

Changes of a batch go to a `Draft` first and reach the book only once the batch's
transaction committed, so an aborted batch leaves the book as the log has it.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from schemas.plans import Plan, latest
from services.outreach.domain.lifecycle import due_at

PlanKey = tuple[str, str]  # (seller_id, plan_id)


@dataclass
class PlanBook:
    plans: dict[PlanKey, Plan] = field(default_factory=dict)
    deleted: set[PlanKey] = field(default_factory=set)
    by_seller: dict[str, set[str]] = field(default_factory=dict)
    partition_of: dict[str, int] = field(default_factory=dict)
    _due: list[tuple[datetime, str, str, int]] = field(default_factory=list)

    def get(self, seller_id: str, plan_id: str) -> Plan | None:
        key = (seller_id, plan_id)
        return None if key in self.deleted else self.plans.get(key)

    def of_seller(self, seller_id: str) -> Iterator[Plan]:
        for plan_id in sorted(self.by_seller.get(seller_id, ())):
            plan = self.get(seller_id, plan_id)
            if plan is not None:
                yield plan

    def apply(self, plan: Plan, *, deleted: bool, partition: int) -> None:
        key = (plan.seller_id, plan.plan_id)
        current = self.plans.get(key)
        if latest(current, plan) is not plan:
            return
        self.plans[key] = plan
        self.partition_of[plan.seller_id] = partition
        self.by_seller.setdefault(plan.seller_id, set()).add(plan.plan_id)
        if deleted:
            self.deleted.add(key)
        at = None if deleted else due_at(plan)
        if at is not None:
            heapq.heappush(self._due, (at, plan.seller_id, plan.plan_id, plan.version))

    def next_due(self) -> datetime | None:
        self._drop_stale()
        return self._due[0][0] if self._due else None

    def due(self, now: datetime) -> list[Plan]:
        """Plans whose due time has come, each once, oldest first (they stay in the book
        until a committed change moves them on)."""
        found: list[Plan] = []
        seen: set[PlanKey] = set()
        # Asked at every turn of the processor's loop: the heap's head says whether
        # anything is due without looking at every plan.
        self._drop_stale()
        if not self._due or self._due[0][0] > now:
            return found
        for _, seller_id, plan_id, version in sorted(d for d in self._due if d[0] <= now):
            plan = self.get(seller_id, plan_id)
            if plan is None or plan.version != version or (seller_id, plan_id) in seen:
                continue
            seen.add((seller_id, plan_id))
            found.append(plan)
        return found

    def forget_partitions(self, partitions: set[int]) -> None:
        """Another processor owns these now: drop their sellers."""
        gone = {s for s, p in self.partition_of.items() if p in partitions}
        for seller_id in gone:
            for plan_id in self.by_seller.pop(seller_id, set()):
                self.plans.pop((seller_id, plan_id), None)
                self.deleted.discard((seller_id, plan_id))
            del self.partition_of[seller_id]
        self._due = [d for d in self._due if d[1] not in gone]
        heapq.heapify(self._due)

    def _drop_stale(self) -> None:
        while self._due:
            at, seller_id, plan_id, version = self._due[0]
            plan = self.get(seller_id, plan_id)
            if plan is not None and plan.version == version and due_at(plan) == at:
                return
            heapq.heappop(self._due)


@dataclass
class Draft:
    """One batch's uncommitted changes over the book."""

    book: PlanBook
    changed: dict[PlanKey, tuple[Plan, bool]] = field(default_factory=dict)

    def get(self, seller_id: str, plan_id: str) -> Plan | None:
        key = (seller_id, plan_id)
        if key in self.changed:
            plan, deleted = self.changed[key]
            return None if deleted else plan
        return self.book.get(seller_id, plan_id)

    def of_seller(self, seller_id: str) -> list[Plan]:
        ids = {p.plan_id for p in self.book.of_seller(seller_id)}
        ids |= {plan_id for (s, plan_id) in self.changed if s == seller_id}
        plans = (self.get(seller_id, plan_id) for plan_id in sorted(ids))
        return [p for p in plans if p is not None]

    def put(self, plan: Plan, *, deleted: bool = False) -> None:
        self.changed[(plan.seller_id, plan.plan_id)] = (plan, deleted)

    def commit(self, partition_of: dict[str, int]) -> None:
        for (seller_id, _), (plan, deleted) in self.changed.items():
            self.book.apply(plan, deleted=deleted, partition=partition_of[seller_id])
