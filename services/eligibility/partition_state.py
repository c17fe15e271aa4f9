"""One partition's eligibility state in memory: the batch fold and its changelog.

The changelog (compacted topic crm.eligibility-state, same partition as the seller)
holds two kinds of records:

    s:<seller_id>  the seller's SellerState (reports, decisions, appeals) as JSON,
                   rewritten when a batch changed it (once per batch, not per event)
    m:<chunk>      the engagement marks and the waiting events one batch added:
                   {"m": {seller: {window: [delivered, read, blocked]}},
                    "w": {seller: [[kind, message_id, at], ...]}}

A chunk is written once and deleted (a tombstone) when none of its entries, a
(seller, window) or a seller's waiting events, can feed a decision any more. So the
changelog grows with the engagement that can still count, and an event waiting for
its seller's market costs one entry, not a rewrite of the seller's row.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from schemas.seller import (
    AppealDecided,
    AppealSubmitted,
    SellerMetricsReported,
    SellerStatusChanged,
)
from services.eligibility.domain import decision
from services.eligibility.domain.marks import (
    KINDS,
    WAITING_LIMIT,
    WindowMarks,
    WindowOf,
    revisitable,
)
from services.eligibility.domain.state import (
    EngagementKind,
    EngagementTally,
    SellerState,
    record_metrics,
)
from services.eligibility.domain.trusted import trusted
from services.policy.domain import PolicyBook
from services.shared.clock import Clock
from services.shared.rejection import Rejected

_KIND_INDEX = {kind: n for n, kind in enumerate(KINDS)}
WAITING = "?"  # the entry name of a seller's waiting events
# Marks per chunk record, so that a record stays well below the broker's size limit.
CHUNK_MARKS = 12_000
Entry = tuple[str, str]  # (seller_id, window or WAITING)
Changelog = list[tuple[bytes, bytes | None]]
_ROW_SERIALIZER = SellerState.__pydantic_serializer__
_NO_STATUS = {"status"}
_NO_STATUS_OR_DECISION = {"status", "evaluated"}


def _row(state: SellerState, encoded: Mapping[int, bytes]) -> bytes:
    # Straight from the serializer: model_dump_json's str detour costs as much as the JSON.
    to_json = _ROW_SERIALIZER.to_json
    # The status in force is most often the decision itself (the same object): written
    # once, which halves the rows a tick writes; restored as that decision.
    if state.status is not None and state.status is state.evaluated:
        decision = encoded.get(id(state.evaluated))
        if decision is None:
            return to_json(state, exclude=_NO_STATUS)
        # Published in this batch, so serialised already: spliced in, not again.
        rest = to_json(state, exclude=_NO_STATUS_OR_DECISION)
        return rest[:-1] + b',"evaluated":' + decision + b"}"
    return to_json(state)


def _evaluated_month(state: SellerState | None) -> str | None:
    if state is None or state.evaluated is None:
        return None
    return state.evaluated.effective_month


@dataclass
class PartitionState:
    partition: int
    policies: PolicyBook
    clock: Clock
    sellers: dict[str, SellerState] = field(default_factory=dict)
    marks: dict[str, dict[str, WindowMarks]] = field(default_factory=dict)
    waiting: dict[str, list[tuple[EngagementKind, str, datetime]]] = field(default_factory=dict)
    _chunk_entries: dict[str, set[Entry]] = field(default_factory=dict)
    _entry_chunks: dict[Entry, list[str]] = field(default_factory=dict)
    _next_chunk: int = 0
    _window_of: WindowOf = field(default_factory=WindowOf)
    # What the batch under way changed.
    _dirty: set[str] = field(default_factory=set)
    _new_marks: dict[str, dict[str, tuple[list[str], list[str], list[str]]]] = field(
        default_factory=dict
    )
    _new_waiting: dict[str, list[list[str]]] = field(default_factory=dict)
    _deleted_chunks: list[str] = field(default_factory=list)

    # ---- events ----------------------------------------------------------------------

    def on_metrics(self, event: SellerMetricsReported) -> None:
        seller_id = event.seller_id
        state = self.sellers.get(seller_id) or trusted(SellerState, seller_id=seller_id)
        updated = record_metrics(state, event)  # raises Rejected on a market change
        if updated is None:
            return
        self.sellers[seller_id] = updated
        self._dirty.add(seller_id)
        if state.market is None and seller_id in self.waiting:
            self._new_waiting.pop(seller_id, None)
            self._retire(seller_id, WAITING)
            for kind, message_id, at in self.waiting.pop(seller_id):
                self._count(seller_id, event.market, kind, message_id, at, None)

    def on_engagement(
        self, seller_id: str, message_id: str, kind: EngagementKind, at: datetime
    ) -> None:
        state = self.sellers.get(seller_id)
        market = state.market if state is not None else None
        if market is None:
            waiting = self.waiting.setdefault(seller_id, [])
            if len(waiting) >= WAITING_LIMIT:
                raise Rejected(
                    f"seller {seller_id} has no market yet (no metrics report) and "
                    f"{WAITING_LIMIT} engagement events are already waiting"
                )
            waiting.append((kind, message_id, at))
            self._new_waiting.setdefault(seller_id, []).append([kind, message_id, at.isoformat()])
            return
        self._count(seller_id, market, kind, message_id, at, _evaluated_month(state))

    def _count(
        self,
        seller_id: str,
        market: str,
        kind: EngagementKind,
        message_id: str,
        at: datetime,
        evaluated_month: str | None,
    ) -> None:
        window = self._window_of(at, market)
        if evaluated_month is not None and not revisitable(window, evaluated_month):
            return  # no decision can read it any more
        windows = self.marks.get(seller_id)
        if windows is None:
            windows = self.marks[seller_id] = {}
        marks = windows.get(window)
        if marks is None:
            marks = windows[window] = WindowMarks()
        if marks.add(kind, message_id):
            per_window = self._new_marks.get(seller_id)
            if per_window is None:
                per_window = self._new_marks[seller_id] = {}
            added = per_window.get(window)
            if added is None:
                added = per_window[window] = ([], [], [])
            added[_KIND_INDEX[kind]].append(message_id)

    def on_appeal_submitted(self, event: AppealSubmitted) -> None:
        updated = decision.submit_appeal(self.seller(event.seller_id), event)
        if updated is not None:
            self.sellers[event.seller_id] = updated
            self._dirty.add(event.seller_id)

    def on_appeal_decided(self, event: AppealDecided) -> SellerStatusChanged | None:
        state = self.seller(event.seller_id)
        policy = self.policies.for_market(state.market or "")
        outcome = decision.decide_appeal(state, event, policy, self.clock())
        if outcome.state is not state:
            self.sellers[event.seller_id] = outcome.state
            self._dirty.add(event.seller_id)
        return outcome.status

    def sellers_of(self, market: str) -> list[str]:
        return [s for s, state in self.sellers.items() if state.market == market]

    def evaluate(
        self, market: str, effective_month: str, seller_ids: list[str] | None = None
    ) -> list[SellerStatusChanged]:
        """Decide this partition's sellers of `market` (or these of them); the statuses
        to publish."""
        policy = self.policies.for_market(market)
        decided_at = self.clock()
        statuses = []
        for seller_id in self.sellers_of(market) if seller_ids is None else seller_ids:
            state = self.sellers[seller_id]
            outcome = decision.evaluate(
                state, effective_month, self.tally(seller_id, effective_month), policy, decided_at
            )
            if outcome.status is None:
                continue
            self.sellers[seller_id] = outcome.state
            self._dirty.add(seller_id)
            statuses.append(outcome.status)
            self._expire(seller_id, effective_month)
        return statuses

    # ---- reading -----------------------------------------------------------------------

    def seller(self, seller_id: str) -> SellerState:
        return self.sellers.get(seller_id) or SellerState(seller_id=seller_id)

    def tally(self, seller_id: str, window: str) -> EngagementTally | None:
        marks = self.marks.get(seller_id, {}).get(window)
        if marks is None:
            return None
        return trusted(EngagementTally, windows={window: marks.tally()})

    def sizes(self) -> dict[str, int]:
        return {
            "sellers": len(self.sellers),
            "windows": sum(len(w) for w in self.marks.values()),
            "marks": sum(len(m) for w in self.marks.values() for m in w.values()),
            "waiting": sum(len(w) for w in self.waiting.values()),
            "chunks": len(self._chunk_entries),
        }

    # ---- expiry ------------------------------------------------------------------------

    def _expire(self, seller_id: str, evaluated_month: str) -> None:
        windows = self.marks.get(seller_id)
        if not windows:
            return
        for window in [w for w in windows if not revisitable(w, evaluated_month)]:
            del windows[window]
            self._new_marks.get(seller_id, {}).pop(window, None)
            self._retire(seller_id, window)
        if not windows:
            del self.marks[seller_id]

    def _retire(self, seller_id: str, window: str) -> None:
        """The entry feeds nothing any more: a chunk left without live entries goes."""
        for chunk in self._entry_chunks.pop((seller_id, window), ()):
            entries = self._chunk_entries.get(chunk)
            if entries is None:
                continue
            entries.discard((seller_id, window))
            if not entries:
                del self._chunk_entries[chunk]
                self._deleted_chunks.append(chunk)

    # ---- changelog ---------------------------------------------------------------------

    def changes(self, encoded: Mapping[int, bytes] | None = None) -> Changelog:
        """The changelog records of the batch under way; the batch is over after this.
        `encoded`: the JSON of the statuses the batch publishes, by id()."""
        known = encoded or {}
        records: Changelog = [
            (f"s:{s}".encode(), _row(self.sellers[s], known)) for s in self._dirty
        ]
        records.extend(self._chunk_records())
        records.extend((f"m:{c}".encode(), None) for c in self._deleted_chunks)
        self._dirty = set()
        self._new_marks = {}
        self._new_waiting = {}
        self._deleted_chunks = []
        return records

    def _chunk_records(self) -> Iterator[tuple[bytes, bytes]]:
        body: dict[str, Any] = {"m": {}, "w": {}}
        size = 0
        for seller_id, windows in self._new_marks.items():
            body["m"][seller_id] = {w: list(added) for w, added in windows.items() if any(added)}
            size += sum(len(k) for added in windows.values() for k in added)
            if size >= CHUNK_MARKS:
                yield self._chunk(body)
                body, size = {"m": {}, "w": {}}, 0
        for seller_id, waiting in self._new_waiting.items():
            body["w"][seller_id] = waiting
            size += len(waiting)
            if size >= CHUNK_MARKS:
                yield self._chunk(body)
                body, size = {"m": {}, "w": {}}, 0
        if body["m"] or body["w"]:
            yield self._chunk(body)

    def _chunk(self, body: dict[str, Any]) -> tuple[bytes, bytes]:
        chunk = f"{self.partition}.{self._next_chunk}"
        self._next_chunk += 1
        self._register(chunk, body)
        return f"m:{chunk}".encode(), orjson.dumps(body)

    def _register(self, chunk: str, body: dict[str, Any]) -> None:
        entries = {(s, w) for s, windows in body["m"].items() for w in windows}
        entries.update((s, WAITING) for s in body["w"])
        if not entries:
            self._deleted_chunks.append(chunk)
            return
        self._chunk_entries[chunk] = entries
        for entry in entries:
            self._entry_chunks.setdefault(entry, []).append(chunk)

    # ---- restore -----------------------------------------------------------------------

    def restore(self, key: bytes, value: bytes | None) -> None:
        """Apply one changelog record (in log order); call `settle` after the last."""
        kind, name = key[:2], key[2:].decode()
        if kind == b"s:":
            if value is None:
                self.sellers.pop(name, None)
            else:
                state = SellerState.model_validate_json(value)
                if state.status is None and state.evaluated is not None:
                    state = state.model_copy(update={"status": state.evaluated})
                self.sellers[name] = state
        elif kind == b"m:":
            self._next_chunk = max(self._next_chunk, int(name.rsplit(".", 1)[1]) + 1)
            if value is None:
                for entry in self._chunk_entries.pop(name, ()):
                    chunks = self._entry_chunks.get(entry, [])
                    if name in chunks:
                        chunks.remove(name)
                return
            body = orjson.loads(value)
            for seller_id, windows in body["m"].items():
                per_seller = self.marks.setdefault(seller_id, {})
                for window, added in windows.items():
                    marks = per_seller.setdefault(window, WindowMarks())
                    for kind_name, ids in zip(KINDS, added, strict=True):
                        getattr(marks, kind_name).update(ids)
            for seller_id, waiting in body["w"].items():
                self.waiting.setdefault(seller_id, []).extend(
                    (k, m, datetime.fromisoformat(at)) for k, m, at in waiting
                )
            self._register(name, body)

    def settle(self) -> None:
        """After a restore: drop what can no longer count (deleted at the next commit)."""
        for seller_id in list(self.waiting):
            state = self.sellers.get(seller_id)
            if state is not None and state.market is not None:
                # Counted in the batch that learnt the market (same transaction).
                del self.waiting[seller_id]
                self._retire(seller_id, WAITING)
        for seller_id in list(self.marks):
            month = _evaluated_month(self.sellers.get(seller_id))
            if month is not None:
                self._expire(seller_id, month)
        self._dirty = set()
        self._new_marks = {}
        self._new_waiting = {}
