"""What each input event does to its partition's state: a table from event type to
handler, which the processor folds every admitted record through. An AppealDecided may
publish a status at once; everything else only updates the state the next evaluation
decides on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from schemas.engagement import MessageDelivered, MessageRead, ShopBlocked
from schemas.envelope import Event
from schemas.seller import (
    AppealDecided,
    AppealSubmitted,
    SellerMetricsReported,
    SellerStatusChanged,
)
from services.eligibility.partition_state import PartitionState

Handler = Callable[[PartitionState, Any], SellerStatusChanged | None]


def _delivered(state: PartitionState, event: MessageDelivered) -> None:
    state.on_engagement(event.seller_id, event.message_id, "delivered", event.delivered_at)


def _read(state: PartitionState, event: MessageRead) -> None:
    state.on_engagement(event.seller_id, event.message_id, "read", event.read_at)


def _blocked(state: PartitionState, event: ShopBlocked) -> None:
    if event.message_id is not None:  # a block not traced to a message counts for nothing
        state.on_engagement(event.seller_id, event.message_id, "blocked", event.occurred_at)


def _metrics(state: PartitionState, event: SellerMetricsReported) -> None:
    state.on_metrics(event)


def _appeal_submitted(state: PartitionState, event: AppealSubmitted) -> None:
    state.on_appeal_submitted(event)


def _appeal_decided(state: PartitionState, event: AppealDecided) -> SellerStatusChanged | None:
    return state.on_appeal_decided(event)


HANDLERS: dict[type[Event], Handler] = {
    MessageDelivered: _delivered,
    MessageRead: _read,
    ShopBlocked: _blocked,
    SellerMetricsReported: _metrics,
    AppealSubmitted: _appeal_submitted,
    AppealDecided: _appeal_decided,
}


def fold(state: PartitionState, event: Event) -> SellerStatusChanged | None:
    """Apply one event; the status it publishes at once, if any. Clicks, failures and
    unblocks do not feed eligibility: they have no handler."""
    handle = HANDLERS.get(type(event))
    return None if handle is None else handle(state, event)
