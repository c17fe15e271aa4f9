"""Plan validation: schedule windows, segments, templates, languages, placeholders, buttons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas.outbound import Button
from schemas.plans import Plan, PlanContent, PlanDraft, Trigger
from services.outreach.domain.templates import find, for_market
from services.outreach.domain.validation import (
    BUILTIN_SEGMENTS,
    MAX_SCHEDULE_AHEAD,
    Problem,
    content_from_template,
    content_problems,
    time_problems,
    validate_draft,
)

pytestmark = pytest.mark.unit

NOW = datetime(2024, 7, 3, 12, 0, tzinfo=UTC)
PLUS_7 = timezone(timedelta(hours=7))
MINUS_7 = timezone(timedelta(hours=-7))
CUSTOM = frozenset({"java_buyers"})
TEXTS = {"th": "สวัสดีค่ะ {customer_name}", "en": "Hi {customer_name}"}


def content(**overrides: Any) -> PlanContent:
    fields: dict[str, Any] = {"default_language": "th", "texts": TEXTS}
    return PlanContent.model_validate({**fields, **overrides})


def one_time(**overrides: Any) -> PlanDraft:
    fields: dict[str, Any] = {
        "type": "one_time",
        "name": "June flash sale",
        "segment_id": "repeat_customers",
        "content": content(),
        "send_at": NOW + timedelta(days=1),
    }
    if overrides.get("type") == "campaign":
        fields["campaign_id"] = "sale-7-7"  # a campaign plan names its campaign
    return PlanDraft.model_validate({**fields, **overrides})


def automated(**overrides: Any) -> PlanDraft:
    fields: dict[str, Any] = {
        "type": "automated",
        "name": "Cart reminder",
        "segment_id": "cart_abandoners",
        "content": content(),
        "trigger": Trigger(type="cart_abandoned"),
        "starts_at": NOW,
        "ends_at": NOW + timedelta(days=90),
    }
    return PlanDraft.model_validate({**fields, **overrides})


def problems_of(draft: PlanDraft, *, now: datetime = NOW) -> set[tuple[str, str]]:
    return {(p.field, p.code) for p in validate_draft(draft, now=now, known_segments=CUSTOM)}


# --- valid plans --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "draft",
    [
        one_time(),
        one_time(send_at=None, send_now=True),
        one_time(type="campaign"),
        one_time(type="campaign", send_at=None, send_now=True),
        automated(),
        automated(trigger=Trigger(type="win_back", after_days=30)),
    ],
    ids=["one_time_at", "one_time_now", "campaign_at", "campaign_now", "automated", "win_back"],
)
def test_a_complete_plan_has_no_problems(draft: PlanDraft) -> None:
    assert validate_draft(draft, now=NOW, known_segments=CUSTOM) == []


# --- the schedule of one-time and campaign plans -----------------------------------------


@pytest.mark.parametrize(
    ("send_at", "problem"),
    [
        (NOW - timedelta(days=1), "send_at_in_past"),
        (NOW - timedelta(microseconds=1), "send_at_in_past"),
        (NOW, "send_at_in_past"),
        (NOW + timedelta(microseconds=1), None),
        (NOW + timedelta(seconds=1), None),
        (NOW + timedelta(days=15), None),
        (NOW + MAX_SCHEDULE_AHEAD - timedelta(seconds=1), None),
        (NOW + MAX_SCHEDULE_AHEAD, None),
        (NOW + MAX_SCHEDULE_AHEAD + timedelta(microseconds=1), "send_at_too_far"),
        (NOW + MAX_SCHEDULE_AHEAD + timedelta(seconds=1), "send_at_too_far"),
        (NOW + timedelta(days=365), "send_at_too_far"),
    ],
)
@pytest.mark.parametrize("plan_type", ["one_time", "campaign"])
def test_send_at_must_be_in_the_future_and_at_most_30_days_ahead(
    send_at: datetime, problem: str | None, plan_type: str
) -> None:
    expected = {("send_at", problem)} if problem else set()
    assert problems_of(one_time(type=plan_type, send_at=send_at)) == expected


@pytest.mark.parametrize(
    ("send_at", "problem"),
    [
        # 12:00 UTC is 19:00 at +07:00 and 05:00 at -07:00: the same instant as NOW.
        (datetime(2024, 7, 3, 19, 0, tzinfo=PLUS_7), "send_at_in_past"),
        (datetime(2024, 7, 3, 5, 0, tzinfo=MINUS_7), "send_at_in_past"),
        (datetime(2024, 7, 3, 19, 0, 1, tzinfo=PLUS_7), None),
        (datetime(2024, 7, 3, 5, 0, 1, tzinfo=MINUS_7), None),
        (datetime(2024, 8, 2, 19, 0, tzinfo=PLUS_7), None),
        (datetime(2024, 8, 2, 5, 0, tzinfo=MINUS_7), None),
        (datetime(2024, 8, 2, 19, 0, 1, tzinfo=PLUS_7), "send_at_too_far"),
        (datetime(2024, 8, 2, 5, 0, 1, tzinfo=MINUS_7), "send_at_too_far"),
        (datetime(2024, 7, 3, 20, 0, tzinfo=ZoneInfo("Asia/Bangkok")), None),
        (datetime(2024, 7, 3, 13, 0, tzinfo=ZoneInfo("Europe/London")), "send_at_in_past"),
        (datetime(2024, 7, 3, 13, 0, 1, tzinfo=ZoneInfo("Europe/London")), None),
    ],
)
@pytest.mark.parametrize(
    "now",
    [NOW, NOW.astimezone(PLUS_7), NOW.astimezone(MINUS_7), NOW.astimezone(ZoneInfo("Asia/Manila"))],
    ids=["utc", "plus7", "minus7", "manila"],
)
def test_send_at_limits_are_instants_whatever_the_offsets(
    send_at: datetime, problem: str | None, now: datetime
) -> None:
    expected = {("send_at", problem)} if problem else set()
    assert problems_of(one_time(send_at=send_at), now=now) == expected


def test_the_30_days_are_elapsed_time_across_a_daylight_saving_change() -> None:
    # London moves to summer time on 2024-03-31: 30 × 24 hours after 12:00 GMT on
    # 2024-03-15 is 13:00 BST on 2024-04-14, not 12:00 BST.
    london = ZoneInfo("Europe/London")
    now = datetime(2024, 3, 15, 12, 0, tzinfo=london)
    on_the_limit = datetime(2024, 4, 14, 13, 0, tzinfo=london)
    assert problems_of(one_time(send_at=on_the_limit), now=now) == set()
    assert problems_of(one_time(send_at=on_the_limit + timedelta(seconds=1)), now=now) == {
        ("send_at", "send_at_too_far")
    }


@given(offset=st.timedeltas(min_value=timedelta(days=-40), max_value=timedelta(days=40)))
def test_send_at_is_valid_exactly_inside_the_window(offset: timedelta) -> None:
    valid = timedelta(0) < offset <= MAX_SCHEDULE_AHEAD
    assert (problems_of(one_time(send_at=NOW + offset)) == set()) is valid


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"send_at": None}, {("send_at", "send_time_missing")}),
        ({"send_now": True}, {("send_now", "send_at_and_send_now")}),
        ({"trigger": Trigger(type="new_follower")}, {("trigger", "not_allowed")}),
        ({"starts_at": NOW}, {("starts_at", "not_allowed")}),
        ({"ends_at": NOW + timedelta(days=2)}, {("ends_at", "not_allowed")}),
        (
            {"send_at": None, "starts_at": NOW, "ends_at": NOW + timedelta(days=2)},
            {
                ("send_at", "send_time_missing"),
                ("starts_at", "not_allowed"),
                ("ends_at", "not_allowed"),
            },
        ),
    ],
)
@pytest.mark.parametrize("plan_type", ["one_time", "campaign"])
def test_one_time_and_campaign_plans_take_send_at_or_send_now_only(
    overrides: dict[str, Any], expected: set[tuple[str, str]], plan_type: str
) -> None:
    assert problems_of(one_time(type=plan_type, **overrides)) == expected


@pytest.mark.parametrize(
    ("draft", "expected"),
    [
        (one_time(type="campaign", campaign_id=None), {("campaign_id", "campaign_missing")}),
        (
            one_time(type="campaign", campaign_id=None, send_at=None, send_now=True),
            {("campaign_id", "campaign_missing")},
        ),
        (one_time(campaign_id="sale-7-7"), {("campaign_id", "not_allowed")}),
        (automated(campaign_id="sale-7-7"), {("campaign_id", "not_allowed")}),
    ],
    ids=["campaign_without_id", "campaign_now_without_id", "one_time_with_id", "automated_with_id"],
)
def test_only_a_campaign_plan_names_a_campaign_and_it_must(
    draft: PlanDraft, expected: set[tuple[str, str]]
) -> None:
    assert problems_of(draft) == expected


# --- the timeframe of automated plans -----------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"trigger": None}, {("trigger", "missing")}),
        ({"starts_at": None}, {("starts_at", "missing")}),
        ({"ends_at": None}, {("ends_at", "missing")}),
        (
            {"trigger": None, "starts_at": None, "ends_at": None},
            {("trigger", "missing"), ("starts_at", "missing"), ("ends_at", "missing")},
        ),
        ({"send_at": NOW + timedelta(days=1)}, {("send_at", "not_allowed")}),
        ({"send_now": True}, {("send_now", "not_allowed")}),
        # starts_at in the past is fine: the plan starts at once.
        ({"starts_at": NOW - timedelta(days=10)}, set()),
        ({"starts_at": NOW + timedelta(days=10)}, set()),
        ({"ends_at": NOW + timedelta(seconds=1)}, set()),
        ({"ends_at": NOW}, {("ends_at", "ends_in_past"), ("ends_at", "ends_before_start")}),
        (
            {"starts_at": NOW - timedelta(days=2), "ends_at": NOW},
            {("ends_at", "ends_in_past")},
        ),
        (
            {"starts_at": NOW - timedelta(days=2), "ends_at": NOW - timedelta(days=1)},
            {("ends_at", "ends_in_past")},
        ),
        (
            {"starts_at": NOW + timedelta(days=5), "ends_at": NOW + timedelta(days=5)},
            {("ends_at", "ends_before_start")},
        ),
        (
            {"starts_at": NOW + timedelta(days=5), "ends_at": NOW + timedelta(days=4)},
            {("ends_at", "ends_before_start")},
        ),
        (
            {
                "starts_at": datetime(2024, 7, 10, 7, 0, tzinfo=PLUS_7),
                "ends_at": datetime(2024, 7, 9, 17, 0, tzinfo=MINUS_7),
            },
            {("ends_at", "ends_before_start")},
        ),
    ],
)
def test_automated_plans_take_a_trigger_and_a_timeframe_ending_in_the_future(
    overrides: dict[str, Any], expected: set[tuple[str, str]]
) -> None:
    assert problems_of(automated(**overrides)) == expected


# --- time rules again at submit -----------------------------------------------------------


def _as_plan(draft: PlanDraft) -> Plan:
    return Plan.model_validate(
        {
            **dict(draft),
            "plan_id": "p1",
            "seller_id": "s1",
            "created_by": "s1",
            "status": "draft",
            "version": 1,
            "created_at": NOW,
            "updated_at": NOW,
        }
    )


def test_a_draft_valid_when_saved_is_rejected_when_submitted_after_its_send_at() -> None:
    plan = _as_plan(one_time(send_at=NOW + timedelta(days=1)))
    assert time_problems(plan, now=NOW) == []
    late = time_problems(plan, now=NOW + timedelta(days=2))
    assert [(p.field, p.code) for p in late] == [("send_at", "send_at_in_past")]


def test_an_automated_plan_submitted_after_its_end_is_rejected() -> None:
    plan = _as_plan(automated(ends_at=NOW + timedelta(days=1)))
    assert time_problems(plan, now=NOW) == []
    assert [p.code for p in time_problems(plan, now=NOW + timedelta(days=1))] == ["ends_in_past"]


def test_time_problems_check_the_clock_only() -> None:
    # An unknown segment or a bad placeholder is validate_draft's, not time_problems'.
    draft = one_time(segment_id="gone", content=content(texts={"th": "{0}"}))
    assert time_problems(draft, now=NOW) == []
    assert time_problems(one_time(send_at=None, send_now=True), now=NOW + timedelta(days=99)) == []


def test_now_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        validate_draft(one_time(), now=datetime(2024, 7, 3, 12), known_segments=CUSTOM)


# --- segments -----------------------------------------------------------------------------


def test_the_builtin_segments_are_the_seven_of_the_spec() -> None:
    assert {
        "new_customers",
        "repeat_customers",
        "high_value_customers",
        "lapsed_customers",
        "followers_not_purchased",
        "cart_abandoners",
        "engaged_visitors",
    } == BUILTIN_SEGMENTS


@pytest.mark.parametrize(
    ("segment_id", "known", "valid"),
    [
        *((segment, frozenset(), True) for segment in sorted(BUILTIN_SEGMENTS)),
        ("java_buyers", frozenset({"java_buyers"}), True),
        ("java_buyers", frozenset(), False),
        ("deleted_segment", frozenset({"java_buyers"}), False),
        ("New_Customers", frozenset(), False),
    ],
)
def test_a_segment_is_builtin_or_one_of_the_sellers(
    segment_id: str, known: frozenset[str], valid: bool
) -> None:
    problems = validate_draft(one_time(segment_id=segment_id), now=NOW, known_segments=known)
    assert [(p.field, p.code) for p in problems] == (
        [] if valid else [("segment_id", "unknown_segment")]
    )


def test_a_blank_name_is_a_problem() -> None:
    assert problems_of(one_time(name="   ")) == {("name", "blank")}


# --- content ------------------------------------------------------------------------------


def content_codes(**overrides: Any) -> set[tuple[str, str]]:
    return {(p.field, p.code) for p in content_problems(content(**overrides))}


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"template_id": "thank_you"}, set()),
        ({"template_id": "thank_you", "default_language": "en"}, set()),
        ({"template_id": "no_such_template"}, {("content.template_id", "unknown_template")}),
        (
            {"template_id": "thank_you", "default_language": "ko", "texts": {"ko": "안녕하세요"}},
            {("content.default_language", "language_not_in_template")},
        ),
    ],
)
def test_a_template_must_exist_and_have_the_default_language(
    overrides: dict[str, Any], expected: set[tuple[str, str]]
) -> None:
    assert content_codes(**overrides) == expected


@pytest.mark.parametrize(
    ("language", "valid"),
    [
        ("th", True),
        ("en", True),
        ("fil", True),
        ("zh-SG", True),
        ("es-419", True),
        ("EN", False),
        ("english", False),
        ("e", False),
        ("zh_SG", False),
        ("zh-sg", False),
        ("zh-Hant", False),
        ("th-", False),
        ("th-TH-x", False),
    ],
)
def test_language_codes_are_lowercase_with_an_optional_region(language: str, valid: bool) -> None:
    codes = content_codes(default_language=language, texts={language: "Hello"})
    expected = {
        ("content.default_language", "language_code"),
        (f"content.texts.{language}", "language_code"),
    }
    assert codes == (set() if valid else expected)


def test_a_bad_language_key_besides_a_good_default_is_named() -> None:
    assert content_codes(texts={**TEXTS, "Thai": "x"}) == {("content.texts.Thai", "language_code")}


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("Hi {customer_name} from {shop_name}", True),
        ("{{literal}} braces are fine", True),
        ("{customer_name.__class__.__mro__}", False),
        ("{0}", False),
        ("{}", False),
        ("{x!r}", False),
        ("{product_name}", False),
        ("unbalanced {", False),
        ("unbalanced }", False),
    ],
)
def test_texts_use_only_known_placeholders(text: str, valid: bool) -> None:
    codes = content_codes(texts={**TEXTS, "en": text})
    assert codes == (set() if valid else {("content.texts.en", "unknown_placeholder")})


def test_every_text_with_a_bad_placeholder_is_named() -> None:
    problems = content_problems(content(texts={"th": "{0}", "en": "{x} and {y}"}))
    assert [p.field for p in problems] == ["content.texts.th", "content.texts.en"]
    assert "{x}, {y}" in problems[1].message


def test_a_blank_text_is_a_problem() -> None:
    assert content_codes(texts={**TEXTS, "en": " \n "}) == {("content.texts.en", "blank")}


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"button": Button(type="coupon"), "coupon_id": "c1"}, set()),
        ({"button": Button(type="coupon")}, {("content.coupon_id", "coupon_missing")}),
        ({"button": Button(type="product_detail"), "product_ids": ["p1"]}, set()),
        (
            {"button": Button(type="product_detail")},
            {("content.product_ids", "products_missing")},
        ),
        ({"button": Button(type="product_list")}, set()),
        ({"button": Button(type="shop_home")}, set()),
        ({"button": None}, set()),
        ({"product_ids": ["p1", "p2", "p3", "p4"]}, set()),
        ({"product_ids": ["p1", "p2", "p1"]}, {("content.product_ids", "duplicate_product")}),
        ({"texts": {"th": "ใช้โค้ด {coupon}"}}, {("content.coupon_id", "coupon_missing")}),
        ({"texts": {"th": "ใช้โค้ด {coupon}"}, "coupon_id": "c1"}, set()),
        (
            {"texts": {"th": "ใช้โค้ด {coupon}"}, "button": Button(type="coupon")},
            {("content.coupon_id", "coupon_missing")},
        ),
    ],
)
def test_buttons_coupons_and_products_fit_together(
    overrides: dict[str, Any], expected: set[tuple[str, str]]
) -> None:
    assert content_codes(**overrides) == expected


def test_content_problems_are_part_of_validate_draft() -> None:
    draft = one_time(content=content(button=Button(type="coupon"), texts={"th": "{0}"}))
    assert problems_of(draft) == {
        ("content.coupon_id", "coupon_missing"),
        ("content.texts.th", "unknown_placeholder"),
    }


# --- building content from a template ----------------------------------------------------


def test_texts_left_out_come_from_the_template() -> None:
    built = content_from_template(
        template_id="coupon",
        default_language="th",
        texts=None,
        coupon_id="c1",
        button=Button(type="coupon"),
    )
    template = find("coupon")
    assert isinstance(built, PlanContent)
    assert template is not None
    assert built.texts == template.texts
    assert (built.template_id, built.default_language, built.coupon_id) == ("coupon", "th", "c1")
    assert content_problems(built) == []


@pytest.mark.parametrize(
    ("market", "languages"), [("TH", ["th", "en"]), ("SG", ["en", "zh", "ms"])]
)
def test_a_market_keeps_only_its_languages_of_the_template(
    market: str, languages: list[str]
) -> None:
    built = content_from_template(
        template_id="new_arrivals",
        default_language=languages[0],
        texts={},
        market=market,
    )
    assert isinstance(built, PlanContent)
    assert list(built.texts) == languages
    assert built.texts == for_market(market)[0].texts


def test_texts_given_with_a_template_replace_its_texts() -> None:
    built = content_from_template(
        template_id="thank_you", default_language="en", texts={"en": "Thanks, {customer_name}!"}
    )
    assert isinstance(built, PlanContent)
    assert built.texts == {"en": "Thanks, {customer_name}!"}
    assert built.template_id == "thank_you"


def test_free_text_needs_no_template() -> None:
    built = content_from_template(
        template_id=None, default_language="th", texts=TEXTS, product_ids=("p1", "p2")
    )
    assert built == content(product_ids=["p1", "p2"])


def _codes(built: PlanContent | list[Problem]) -> list[tuple[str, str]]:
    assert isinstance(built, list), built
    return [(p.field, p.code) for p in built]


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (
            {"template_id": None, "default_language": "th", "texts": None},
            [("content.texts", "texts_missing")],
        ),
        (
            {"template_id": None, "default_language": "th", "texts": {}},
            [("content.texts", "texts_missing")],
        ),
        (
            {"template_id": "nope", "default_language": "th", "texts": None},
            [("content.template_id", "unknown_template")],
        ),
        (
            {"template_id": "thank_you", "default_language": "ko", "texts": None},
            [("content.default_language", "language_not_in_template")],
        ),
        (
            {"template_id": "thank_you", "default_language": "th", "texts": None, "market": "US"},
            [("content.default_language", "language_not_in_template")],
        ),
        (
            {"template_id": None, "default_language": "th", "texts": {"en": "Hi"}},
            [("content.texts", "default_language_missing")],
        ),
        (
            {"template_id": None, "default_language": "en", "texts": {"en": "x" * 501}},
            [("content.texts.en", "string_too_long")],
        ),
        (
            {
                "template_id": "restock",
                "default_language": "en",
                "texts": None,
                "product_ids": ["p1", "p2", "p3", "p4", "p5"],
            },
            [("content.product_ids", "too_long")],
        ),
    ],
)
def test_content_that_cannot_be_built_answers_problems(
    arguments: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    assert _codes(content_from_template(**arguments)) == expected


# --- problems read well --------------------------------------------------------------------


def test_problems_are_frozen_sentences() -> None:
    draft = one_time(
        name=" ",
        segment_id="gone",
        send_now=True,
        send_at=NOW - timedelta(days=1),
        trigger=Trigger(type="new_follower"),
        content=content(
            template_id="nope",
            default_language="EN",
            texts={"EN": "{0} {coupon}"},
            button=Button(type="product_detail"),
            product_ids=[],
        ),
    )
    problems = [
        *validate_draft(draft, now=NOW, known_segments=CUSTOM),
        *validate_draft(automated(ends_at=NOW - timedelta(days=1)), now=NOW, known_segments=CUSTOM),
        *validate_draft(one_time(send_at=NOW + timedelta(days=60)), now=NOW, known_segments=CUSTOM),
    ]
    assert {p.code for p in problems} == {
        "blank",
        "unknown_segment",
        "unknown_template",
        "language_code",
        "unknown_placeholder",
        "coupon_missing",
        "products_missing",
        "not_allowed",
        "send_at_and_send_now",
        "send_at_in_past",
        "ends_in_past",
        "ends_before_start",
        "send_at_too_far",
    }
    assert len(problems) == 14  # language_code twice: the default language and its text
    for problem in problems:
        assert problem.message.endswith("."), problem
        assert problem.field.split(".")[0] in PlanDraft.model_fields, problem
    with pytest.raises(ValidationError):
        problems[0].message = "changed"  # type: ignore[misc]
