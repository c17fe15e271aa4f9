"""The handlers table the processor folds through: which input events feed a partition's
state, and that each lands where the state expects it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from schemas.engagement import MessageClicked, MessageDelivered, MessageRead, ShopBlocked
from schemas.topics import topic
from services.eligibility.handlers import HANDLERS, fold
from services.eligibility.partition_state import PartitionState
from services.eligibility.processor import INPUTS
from services.policy import load_policy
from tests.unit.eligibility.builders import metrics

AT = datetime(2024, 6, 10, tzinfo=UTC)
# Read from the inputs but not counted by any rule (SPEC section 3).
IGNORED = {"MessageClicked", "MessageFailed", "ShopUnblocked"}


def _state() -> PartitionState:
    return PartitionState(0, load_policy(), lambda: datetime(2024, 8, 1, tzinfo=UTC))


def _message(cls: Any, **fields: Any) -> Any:
    common = {"event_id": uuid.uuid4(), "occurred_at": AT, "plan_id": "p1", "seller_id": "s1"}
    return cls(**common, customer_id="c1", **fields)


def test_every_input_event_has_a_handler_or_is_knowingly_ignored() -> None:
    carried = {t.__name__ for name in INPUTS for t in topic(name).event_types}
    handled = {t.__name__ for t in HANDLERS}
    assert handled | IGNORED == carried
    assert not handled & IGNORED


def test_engagement_folds_into_the_sellers_window() -> None:
    state = _state()
    assert fold(state, metrics("2024-06-01", market="TH")) is None
    assert fold(state, _message(MessageDelivered, message_id="m1", delivered_at=AT)) is None
    assert fold(state, _message(MessageRead, message_id="m1", read_at=AT)) is None
    tally = state.tally("s1", "2024-07")
    assert tally is not None
    assert (tally.windows["2024-07"].delivered, tally.windows["2024-07"].read) == (1, 1)


def test_a_block_counts_only_when_a_message_prompted_it() -> None:
    state = _state()
    fold(state, metrics("2024-06-01", market="TH"))
    fold(state, _message(MessageDelivered, message_id="m1", delivered_at=AT))
    unprompted = ShopBlocked(
        event_id=uuid.uuid4(), occurred_at=AT, seller_id="s1", customer_id="c1", message_id=None
    )
    before = state.tally("s1", "2024-07")
    assert fold(state, unprompted) is None
    assert state.tally("s1", "2024-07") == before
    prompted = unprompted.model_copy(update={"event_id": uuid.uuid4(), "message_id": "m1"})
    fold(state, prompted)
    after = state.tally("s1", "2024-07")
    assert after is not None
    assert after.windows["2024-07"].blocked == 1


def test_an_event_without_a_handler_changes_nothing() -> None:
    state = _state()
    fold(state, metrics("2024-06-01", market="TH"))
    before = state.tally("s1", "2024-07")
    clicked = _message(MessageClicked, message_id="m1", clicked_at=AT, target="shop_home")
    assert fold(state, clicked) is None
    assert state.tally("s1", "2024-07") == before
