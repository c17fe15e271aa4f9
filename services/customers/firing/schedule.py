"""The firing engine's timetable: when to look at each (plan, customer) pair next.

A min-heap of (when, plan_id, customer_id) with one live entry per pair: pushing a pair
that already waits for an earlier or equal moment changes nothing; pushing it for an
earlier moment supersedes the old entry, which is skipped when it surfaces (lazy
deletion). One live entry per pair is enough because every look asks `next_look` again
and pushes what it answers.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from datetime import datetime

# Superseded entries are dropped wholesale once they outnumber the live ones by this much.
_COMPACT_SLACK = 1024

Pair = tuple[str, str]
"""(plan_id, customer_id)"""


class Schedule:
    def __init__(self) -> None:
        self._heap: list[tuple[datetime, str, str]] = []
        self._when: dict[Pair, datetime] = {}

    def __len__(self) -> int:
        """Pairs waiting (superseded heap entries not counted)."""
        return len(self._when)

    def __contains__(self, pair: object) -> bool:
        return pair in self._when

    def when(self, plan_id: str, customer_id: str) -> datetime | None:
        return self._when.get((plan_id, customer_id))

    def push(self, when: datetime, plan_id: str, customer_id: str) -> bool:
        """Look at the pair at `when` (or earlier, if it already waits for earlier).
        True if the timetable changed."""
        pair = (plan_id, customer_id)
        current = self._when.get(pair)
        if current is not None and current <= when:
            return False
        self._when[pair] = when
        heapq.heappush(self._heap, (when, plan_id, customer_id))
        if len(self._heap) > 2 * len(self._when) + _COMPACT_SLACK:
            self._compact()
        return True

    def next_at(self) -> datetime | None:
        """The earliest moment a pair waits for."""
        self._drop_superseded()
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: datetime, limit: int) -> list[tuple[datetime, str, str]]:
        """Up to `limit` pairs due at `now`, earliest first, taken off the timetable."""
        due: list[tuple[datetime, str, str]] = []
        while len(due) < limit:
            self._drop_superseded()
            if not self._heap or self._heap[0][0] > now:
                break
            when, plan_id, customer_id = heapq.heappop(self._heap)
            del self._when[(plan_id, customer_id)]
            due.append((when, plan_id, customer_id))
        return due

    def drop_plans(self, plan_ids: Iterable[str]) -> int:
        """Forget every pair of these plans; returns how many."""
        doomed = set(plan_ids)
        if not doomed:
            return 0
        before = len(self._when)
        self._when = {pair: at for pair, at in self._when.items() if pair[0] not in doomed}
        self._compact()
        return before - len(self._when)

    def _compact(self) -> None:
        self._heap = [(at, plan_id, customer) for (plan_id, customer), at in self._when.items()]
        heapq.heapify(self._heap)

    def _drop_superseded(self) -> None:
        while self._heap:
            when, plan_id, customer_id = self._heap[0]
            if self._when.get((plan_id, customer_id)) == when:
                return
            heapq.heappop(self._heap)
