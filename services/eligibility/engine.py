"""The glue between decoded events, the state tables and the rules.

Tables are plain mutable mappings of key → JSON bytes (faust tables in the worker,
dicts in tests); every method reads, calls a domain function, writes back what
changed and returns the statuses to publish. No Kafka in here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel

from schemas.engagement import MessageDelivered, MessageRead
from schemas.seller import (
    AppealDecided,
    AppealSubmitted,
    SellerMetricsReported,
    SellerStatusChanged,
)
from services.eligibility.domain import decision
from services.eligibility.domain.state import (
    EngagementKind,
    EngagementTally,
    MessageMarks,
    PendingEngagement,
    SellerState,
    engagement_window,
    mark,
    park_engagement,
    record_metrics,
)
from services.policy.domain import PolicyBook

# Rows are JSON-ready dicts (faust's json serializer writes them to the changelog).
Table = MutableMapping[str, Any]
M = TypeVar("M", bound=BaseModel)


def _load(model: type[M], row: Any) -> M:
    # Rows come back from JSON: strings for UUIDs and dates, which the strict event
    # models refuse from Python objects; the rows were valid models when written.
    return model.model_validate(row, strict=False)


def _row(value: BaseModel) -> dict[str, Any]:
    return value.model_dump(mode="json")


@dataclass
class Engine:
    sellers: Table
    tallies: Table
    messages: Table
    policies: PolicyBook
    clock: Callable[[], datetime]
    # A seller's market never changes once known: cached to spare the hot
    # engagement path from parsing the seller's whole state.
    _markets: dict[str, str] = field(default_factory=dict)

    def seller(self, seller_id: str) -> SellerState:
        raw = self.sellers.get(seller_id)
        if raw is None:
            return SellerState(seller_id=seller_id)
        return _load(SellerState, raw)

    def _save(self, state: SellerState) -> None:
        self.sellers[state.seller_id] = _row(state)

    def market_of(self, seller_id: str) -> str | None:
        market = self._markets.get(seller_id)
        if market is None and seller_id in self.sellers:
            market = self.seller(seller_id).market
            if market is not None:
                self._markets[seller_id] = market
        return market

    def on_metrics(self, event: SellerMetricsReported) -> None:
        state = self.seller(event.seller_id)
        updated = record_metrics(state, event)
        if updated is None:
            return
        waiting = updated.pending
        if waiting:
            updated = updated.model_copy(update={"pending": ()})
        self._save(updated)
        self._markets[event.seller_id] = event.market
        for item in waiting:
            self._count(event.seller_id, event.market, item.kind, item.message_id, item.at)

    def on_engagement(
        self, seller_id: str, message_id: str, kind: EngagementKind, at: datetime
    ) -> None:
        market = self.market_of(seller_id)
        if market is None:
            pending = PendingEngagement(kind=kind, message_id=message_id, at=at)
            self._save(park_engagement(self.seller(seller_id), pending))
            return
        self._count(seller_id, market, kind, message_id, at)

    def on_delivered(self, event: MessageDelivered) -> None:
        self.on_engagement(event.seller_id, event.message_id, "delivered", event.delivered_at)

    def on_read(self, event: MessageRead) -> None:
        self.on_engagement(event.seller_id, event.message_id, "read", event.read_at)

    def _count(
        self, seller_id: str, market: str, kind: EngagementKind, message_id: str, at: datetime
    ) -> None:
        window = engagement_window(at, market)
        key = f"{seller_id}/{message_id}"
        raw = self.messages.get(key)
        marks = _load(MessageMarks, raw) if raw is not None else MessageMarks()
        marked = mark(marks, kind, window)
        if marked is None:
            return  # already counted for this message in this window
        self.messages[key] = _row(marked)
        raw_tally = self.tallies.get(seller_id)
        tally = _load(EngagementTally, raw_tally) if raw_tally is not None else EngagementTally()
        self.tallies[seller_id] = _row(tally.count(kind, window))

    def tally(self, seller_id: str) -> EngagementTally | None:
        raw = self.tallies.get(seller_id)
        return _load(EngagementTally, raw) if raw is not None else None

    def evaluate(
        self, seller_ids: Iterable[str], market: str, effective_month: str
    ) -> list[tuple[SellerState, SellerStatusChanged]]:
        """Decide these sellers (those of `market`); returns (new state, status) pairs
        to publish, then save with `commit`, in that order (see the worker)."""
        policy = self.policies.for_market(market)
        decided_at = self.clock()
        changed = []
        for seller_id in seller_ids:
            if self.market_of(seller_id) != market:
                continue
            state = self.seller(seller_id)
            outcome = decision.evaluate(
                state, effective_month, self.tally(seller_id), policy, decided_at
            )
            if outcome.status is not None:
                changed.append((outcome.state, outcome.status))
        return changed

    def commit(self, states: Iterable[SellerState]) -> None:
        for state in states:
            self._save(state)

    def on_appeal_submitted(self, event: AppealSubmitted) -> None:
        updated = decision.submit_appeal(self.seller(event.seller_id), event)
        if updated is not None:
            self._save(updated)

    def on_appeal_decided(self, event: AppealDecided) -> decision.Outcome:
        """The outcome to publish, then `commit` (a status must never be saved unsent)."""
        state = self.seller(event.seller_id)
        policy = self.policies.for_market(state.market or "")
        return decision.decide_appeal(state, event, policy, self.clock())
