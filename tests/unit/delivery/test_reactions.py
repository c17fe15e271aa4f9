"""The simulated chat system's reactions: deterministic per message, a funnel, at the
given rates, and valid events of the right topics."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.engagement import ClickTarget
from schemas.outbound import Button, OutboundMessage
from schemas.topics import topic_of
from services.delivery.domain.reactions import (
    NOTHING,
    Reaction,
    ReactionRates,
    decide,
    reaction_events,
    uniform,
)
from services.shared.codec import decode, encode

pytestmark = pytest.mark.unit

SENT = datetime(2024, 6, 3, 9, 0, tzinfo=UTC)
ALL = ReactionRates(read=1, click=1, block=1, fail=0, order=1)
NONE = ReactionRates(read=0, click=0, block=0, fail=0, order=0)
rates_strategy = st.builds(
    ReactionRates,
    read=st.floats(0, 1),
    click=st.floats(0, 1),
    block=st.floats(0, 1),
    fail=st.floats(0, 1),
    order=st.floats(0, 1),
)
message_ids = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=40
)


def message(
    message_id: str = "m-1",
    button: ClickTarget | None = "product_list",
    coupon: str | None = None,
) -> OutboundMessage:
    return OutboundMessage(
        event_id=uuid.uuid4(),
        occurred_at=SENT,
        message_id=message_id,
        plan_id="plan-1",
        plan_type="one_time",
        seller_id="seller-1",
        customer_id="cust-1",
        language="th",
        text="Flash sale today",
        product_ids=["p-1", "p-2"],
        coupon_id=coupon,
        button=Button(type=button) if button else None,
    )


@pytest.mark.parametrize(
    ("rates", "has_button", "expected"),
    [
        pytest.param(NONE, True, Reaction(True, False, False, False, False), id="delivered only"),
        pytest.param(ALL, True, Reaction(True, True, True, True, True), id="everything"),
        pytest.param(ALL, False, Reaction(True, True, False, True, False), id="no button"),
        pytest.param(ALL.model_copy(update={"fail": 1.0}), True, NOTHING, id="failed"),
        pytest.param(
            ALL.model_copy(update={"read": 0.0}),
            True,
            Reaction(True, False, False, True, False),
            id="unread: no click, no order",
        ),
        pytest.param(
            ALL.model_copy(update={"order": 0.0}),
            True,
            Reaction(True, True, True, True, False),
            id="clicked without ordering",
        ),
    ],
)
def test_the_certain_rates_decide_every_message_alike(
    rates: ReactionRates, has_button: bool, expected: Reaction
) -> None:
    for n in range(50):
        assert decide(f"m-{n}", has_button, rates) == expected


@given(message_id=message_ids, has_button=st.booleans(), rates=rates_strategy)
def test_reactions_are_a_funnel_and_the_same_every_time(
    message_id: str, has_button: bool, rates: ReactionRates
) -> None:
    reaction = decide(message_id, has_button, rates)
    assert reaction == decide(message_id, has_button, rates)
    if not reaction.delivered:
        assert reaction == NOTHING
    assert not reaction.read or reaction.delivered
    assert not reaction.clicked or (reaction.read and has_button)
    assert not reaction.ordered or reaction.clicked
    assert 0.0 <= uniform(message_id, "read") < 1.0


@pytest.mark.parametrize(
    "rates",
    [
        ReactionRates(read=0.45, click=0.10, block=0.002, fail=0.0, order=0.2),
        ReactionRates(read=0.25, click=0.5, block=0.02, fail=0.05, order=0.5),
    ],
)
def test_over_many_messages_the_shares_match_the_rates(rates: ReactionRates) -> None:
    n = 40_000
    reactions = [decide(f"plan-x:cust-{i}", True, rates) for i in range(n)]
    delivered = [r for r in reactions if r.delivered]
    read = [r for r in delivered if r.read]
    clicked = [r for r in read if r.clicked]

    def close(observed: int, total: int, p: float) -> bool:
        # Five standard deviations: a fair hash passes, a biased rule does not.
        return abs(observed - total * p) <= 5 * math.sqrt(total * p * (1 - p)) + 1

    assert close(n - len(delivered), n, rates.fail)
    assert close(len(read), len(delivered), rates.read)
    assert close(sum(r.blocked for r in delivered), len(delivered), rates.block)
    assert close(len(clicked), len(read), rates.click)
    assert close(sum(r.ordered for r in clicked), len(clicked), rates.order)


def test_a_message_that_gets_every_reaction_makes_every_event_in_order() -> None:
    events = reaction_events(message(coupon="cp-9"), ALL, SENT, "THB")
    types = [e.event_type for e in events]
    assert sorted(types) == sorted(
        [
            "MessageDelivered",
            "MessageRead",
            "MessageClicked",
            "CouponClaimed",
            "OrderPlaced",
            "ShopBlocked",
        ]
    )
    by_type = {e.event_type: e for e in events}
    delivered, read = by_type["MessageDelivered"], by_type["MessageRead"]
    clicked, order = by_type["MessageClicked"], by_type["OrderPlaced"]
    assert SENT <= delivered.delivered_at <= read.read_at <= clicked.clicked_at  # type: ignore[attr-defined]
    assert clicked.clicked_at <= order.occurred_at <= SENT + timedelta(minutes=10)  # type: ignore[attr-defined]
    assert by_type["ShopBlocked"].occurred_at >= delivered.occurred_at
    assert [e.occurred_at for e in events] == sorted(e.occurred_at for e in events)
    assert clicked.target == "product_list"  # type: ignore[attr-defined]
    assert order.coupon_ids == ["cp-9"]  # type: ignore[attr-defined]
    assert order.product_ids == ["p-1"]  # type: ignore[attr-defined]
    assert order.currency == "THB"  # type: ignore[attr-defined]
    assert by_type["ShopBlocked"].message_id == "m-1"  # type: ignore[attr-defined]
    for e in events:
        assert getattr(e, "customer_id") == "cust-1"  # noqa: B009
        assert getattr(e, "seller_id") == "seller-1"  # noqa: B009


@pytest.mark.parametrize(
    ("rates", "button", "expected"),
    [
        pytest.param(NONE, "coupon", ["MessageDelivered"], id="delivered, ignored"),
        pytest.param(
            ALL.model_copy(update={"fail": 1.0}), "coupon", ["MessageFailed"], id="failed"
        ),
        pytest.param(
            ReactionRates(read=1, click=1, block=0, fail=0, order=0),
            None,
            ["MessageDelivered", "MessageRead"],
            id="no button, nothing to click",
        ),
        pytest.param(
            ReactionRates(read=1, click=1, block=0, fail=0, order=0),
            "shop_home",
            ["MessageDelivered", "MessageRead", "MessageClicked"],
            id="clicked, no order",
        ),
        pytest.param(
            ReactionRates(read=1, click=1, block=0, fail=0, order=1),
            "product_detail",
            ["MessageDelivered", "MessageRead", "MessageClicked", "OrderPlaced"],
            id="ordered without a coupon: nothing claimed",
        ),
    ],
)
def test_the_events_follow_the_reaction(
    rates: ReactionRates, button: ClickTarget | None, expected: list[str]
) -> None:
    events = reaction_events(message(button=button), rates, SENT, "IDR")
    assert [e.event_type for e in events] == expected


@given(message_id=message_ids, rates=rates_strategy, coupon=st.sampled_from([None, "cp-1"]))
def test_every_event_is_valid_on_its_topic_and_has_a_stable_unique_id(
    message_id: str, rates: ReactionRates, coupon: str | None
) -> None:
    out = message(message_id=message_id, coupon=coupon)
    events = reaction_events(out, rates, SENT, "THB")
    again = reaction_events(out, rates, SENT + timedelta(hours=1), "THB")
    assert [e.event_id for e in events] == [e.event_id for e in again]
    assert len({e.event_id for e in events}) == len(events)
    for e in events:
        topic = topic_of(e.event_type).name
        assert topic in {"crm.chat-engagement", "crm.shop-blocks", "crm.customer-activity"}
        assert decode(topic, encode(e)) == e


def test_different_messages_get_different_event_ids() -> None:
    a = reaction_events(message("m-a"), ALL, SENT, "THB")
    b = reaction_events(message("m-b"), ALL, SENT, "THB")
    assert not {e.event_id for e in a} & {e.event_id for e in b}
