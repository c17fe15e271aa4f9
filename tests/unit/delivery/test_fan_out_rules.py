"""The pure rules of the fan-out: who is suppressed and why, the order a fan-out resumes
in, the progress fold, the message id and the language, and the fast encoding agreeing
with the schema."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.delivery import DeliveryProgressed
from schemas.outbound import OutboundMessage
from schemas.plans import Plan, PlanContent
from services.delivery.domain.messages import language_for, message_id
from services.delivery.domain.progress import newer
from services.delivery.domain.recipients import chunked, still_to_handle
from services.delivery.domain.suppression import Tally, before_cap
from services.delivery.rendering import (
    PlanRenderer,
    fast_message_id,
    message_ids,
    reference_message,
)

pytestmark = pytest.mark.unit

IDS = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40).filter(
    lambda s: s.strip() == s
)


@pytest.mark.parametrize(
    ("active", "blocked", "already", "expected"),
    [
        (True, False, False, None),
        (True, True, False, "blocked"),
        (True, False, True, "already_messaged"),
        (True, True, True, "blocked"),
        (False, True, True, "seller_inactive"),
        (False, False, False, "seller_inactive"),
    ],
)
def test_suppression_reasons_in_order(
    active: bool, blocked: bool, already: bool, expected: str | None
) -> None:
    assert before_cap(seller_active=active, blocked=blocked, already_messaged=already) == expected


def test_a_tally_counts_each_outcome() -> None:
    tally = Tally().add(["sent", "blocked", "sent"]).add(["frequency_capped", "blocked"])
    assert (tally.recipients, tally.sent) == (5, 2)
    assert tally.suppressed == {"blocked": 2, "frequency_capped": 1}


@given(st.lists(IDS, max_size=60), st.one_of(st.none(), IDS))
def test_a_resumed_fan_out_handles_exactly_the_members_after_the_checkpoint(
    members: list[str], checkpoint: str | None
) -> None:
    todo = still_to_handle(reversed(members), checkpoint)
    assert todo == sorted(set(todo))
    done = [] if checkpoint is None else [m for m in set(members) if m <= checkpoint]
    assert sorted(done + todo) == sorted(set(members))


@given(st.lists(IDS, max_size=60), st.integers(min_value=1, max_value=7))
def test_chunks_keep_every_member_once_in_order(members: list[str], size: int) -> None:
    ordered = still_to_handle(members, None)
    chunks = list(chunked(ordered, size))
    assert [m for c in chunks for m in c] == ordered
    assert all(1 <= len(c) <= size for c in chunks)


def _progress(recipients: int, done: bool = False) -> DeliveryProgressed:
    return DeliveryProgressed(
        event_id=uuid.uuid4(),
        occurred_at=datetime(2024, 7, 3, 12, tzinfo=UTC),
        seller_id="s1",
        plan_id="p1",
        plan_type="one_time",
        segment_id="new_customers",
        as_of=None,
        last_customer_id=None,
        recipients=recipients,
        sent=recipients,
        suppressed={},
        done=done,
    )


def test_progress_keeps_the_furthest_record_whatever_order_it_is_read_in() -> None:
    early, late, final = _progress(10), _progress(20), _progress(20, done=True)
    assert newer(newer(None, late), early) is late
    assert newer(newer(None, early), late) is late
    assert newer(final, late) is final
    assert newer(late, final) is final


def _plan(**content: object) -> Plan:
    at = datetime(2024, 7, 3, 19, tzinfo=timezone(timedelta(hours=7)))
    return Plan.model_validate(
        {
            "plan_id": "plan-7",
            "seller_id": "seller-42",
            "created_by": "owner",
            "type": "one_time",
            "name": "June flash sale",
            "segment_id": "repeat_customers",
            "content": PlanContent.model_validate(
                {"default_language": "th", "texts": {"th": "ลดราคา", "en": "Sale"}, **content}
            ),
            "status": "sending",
            "version": 3,
            "created_at": at,
            "updated_at": at,
        }
    )


@pytest.mark.parametrize(
    ("app_language", "expected"), [("en", "en"), ("th", "th"), ("id", "th"), (None, "th")]
)
def test_the_customers_language_when_the_plan_has_it_else_the_default(
    app_language: str | None, expected: str
) -> None:
    assert language_for(_plan().content, app_language) == expected


@given(IDS, IDS)
def test_the_fast_message_id_is_the_uuid5_of_plan_and_customer(plan_id: str, customer: str) -> None:
    assert fast_message_id(plan_id.encode() + b"/", customer) == str(message_id(plan_id, customer))


@given(IDS, st.sampled_from(["th", "en", "id", None]))
def test_the_fast_encoding_is_the_schemas_message(customer: str, app_language: str | None) -> None:
    plan = _plan(product_ids=["p1", "p2"], coupon_id="cp-1", button={"type": "coupon"})
    at = datetime(2024, 7, 3, 12, 0, 1, tzinfo=UTC)
    renderer = PlanRenderer(plan, at)
    language = renderer.language(app_language)
    mid = fast_message_id(b"plan-7/", customer)
    encoded = renderer.render(customer, mid, language)
    assert OutboundMessage.model_validate_json(encoded) == reference_message(
        plan, customer, app_language, at
    )


def test_a_plan_without_coupon_or_button_encodes_nulls() -> None:
    plan = _plan()
    at = datetime(2024, 7, 3, 12, tzinfo=UTC)
    encoded = PlanRenderer(plan, at).render("c1", fast_message_id(b"plan-7/", "c1"), "en")
    message = OutboundMessage.model_validate_json(encoded)
    assert (message.coupon_id, message.button, message.product_ids) == (None, None, [])
    assert message.text == "Sale"


@given(
    st.lists(
        st.tuples(
            IDS,
            st.none() | st.tuples(st.sampled_from(["th", "en", "id", None]), st.none() | IDS),
        ),
        max_size=8,
    )
)
def test_a_rendered_page_is_each_customers_schema_message(
    recipients: list[tuple[str, tuple[str | None, str | None] | None]],
) -> None:
    """Ids and profiles (app language, name) of a page, some without a profile; one text
    names the customer."""
    plan = _plan(texts={"th": "สวัสดี {customer_name}", "en": "Sale"}, coupon_id="cp-1")
    at = datetime(2024, 7, 3, 12, 0, 1, tzinfo=UTC)
    customers = [c for c, _ in recipients]
    profiles = {c: p for c, p in recipients if p is not None}
    ids = message_ids(b"plan-7/", customers)
    page = PlanRenderer(plan, at).render_page(customers, ids, profiles)
    assert [key for key, _ in page] == [c.encode() for c in customers]
    for customer, (_, encoded) in zip(customers, page, strict=True):
        app_language, name = profiles.get(customer, (None, None))
        assert OutboundMessage.model_validate_json(encoded) == reference_message(
            plan, customer, app_language, at, customer_name=name
        )
