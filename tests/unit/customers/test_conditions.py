"""Custom segments: validating conditions, and matching customers against them."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from pydantic import JsonValue, ValidationError

from services.customers.domain.condition_fields import FIELD_KINDS, OPS_BY_KIND
from services.customers.domain.conditions import (
    Condition,
    matches,
    validate_conditions,
    warnings,
)
from services.customers.domain.profile import Profile
from services.customers.domain.relationship import EMPTY, Relationship, fold
from tests.unit.customers.builders import (
    cart_added,
    chatted,
    clicked,
    followed,
    local,
    ordered,
    read,
    sent,
    unfollowed,
    viewed,
)

pytestmark = pytest.mark.unit

D = date(2024, 6, 30)
JAVA = [
    {"field": "region", "op": "in", "value": ["JK", "JB", "JT", "JI", "YO", "BT"]},
    {"field": "is_follower", "op": "is_true", "value": None},
    {"field": "order_count", "op": "eq", "value": 0},
]


def jakarta(region: str | None = "JK") -> Profile:
    return Profile(
        region=region, city="Jakarta", language="id", updated_at=local("ID", "2024-01-01")
    )


def idn(day: str, clock: str = "12:00") -> datetime:
    return local("ID", day, clock)


def holds(
    field: str, op: str, value: JsonValue, rel: Relationship, profile: Profile | None = None
) -> bool:
    return matches([Condition(field=field, op=op, value=value)], rel, profile, D, "ID")


# --- the SPEC example ---------------------------------------------------------------


def test_the_java_example_is_valid_and_without_warning() -> None:
    assert validate_conditions(JAVA) == []
    assert warnings(JAVA) == []
    assert warnings(JAVA[:2]) == ["fewer_than_3_conditions"]
    assert warnings(JAVA[:1]) == ["fewer_than_3_conditions"]


@pytest.mark.parametrize(
    ("events", "profile", "expected"),
    [
        pytest.param([followed(idn("2024-01-01"))], jakarta(), True, id="potential buyer"),
        pytest.param([followed(idn("2024-01-01"))], jakarta("SU"), False, id="outside Java"),
        pytest.param([followed(idn("2024-01-01"))], None, False, id="no profile"),
        pytest.param([followed(idn("2024-01-01"))], jakarta(None), False, id="region unknown"),
        pytest.param(
            [followed(idn("2024-01-01")), ordered(idn("2024-02-01"))], jakarta(), False, id="bought"
        ),
        pytest.param(
            [followed(idn("2024-01-01")), unfollowed(idn("2024-02-01"))],
            jakarta(),
            False,
            id="unfollowed",
        ),
        pytest.param([viewed(idn("2024-06-01"))], jakarta(), False, id="not a follower"),
    ],
)
def test_the_java_example_matches_potential_buyers(
    events: list, profile: Profile | None, expected: bool
) -> None:
    conditions = [Condition.model_validate(raw) for raw in JAVA]
    assert matches(conditions, fold(events), profile, D, "ID") is expected


# --- every operator on a representative field -------------------------------------------

ORDERS = fold([ordered(idn("2024-06-01"), "o1", 40.0), ordered(idn("2024-06-27"), "o2", 60.0)])


@pytest.mark.parametrize(
    ("field", "op", "value", "rel", "profile", "expected"),
    [
        ("region", "eq", "JK", EMPTY, jakarta(), True),
        ("region", "eq", "JB", EMPTY, jakarta(), False),
        ("region", "neq", "JB", EMPTY, jakarta(), True),
        ("region", "neq", "JK", EMPTY, jakarta(), False),
        ("region", "in", ["JB", "JK"], EMPTY, jakarta(), True),
        ("region", "in", ["JB"], EMPTY, jakarta(), False),
        ("region", "not_in", ["JB"], EMPTY, jakarta(), True),
        ("region", "not_in", ["JB", "JK"], EMPTY, jakarta(), False),
        ("region", "eq", "jk", EMPTY, jakarta(), False),  # exact, case included
        ("city", "eq", "Jakarta", EMPTY, jakarta(), True),
        ("language", "in", ["id", "en"], EMPTY, jakarta(), True),
        # Unknown attributes match nothing, neq and not_in included.
        ("region", "neq", "JB", EMPTY, jakarta(None), False),
        ("region", "not_in", ["JB"], EMPTY, None, False),
        ("gender", "neq", "f", EMPTY, jakarta(), False),
        ("is_follower", "is_true", None, fold([followed(idn("2024-06-01"))]), None, True),
        ("is_follower", "is_false", None, fold([followed(idn("2024-06-01"))]), None, False),
        ("is_follower", "is_false", None, EMPTY, None, True),
        ("is_follower", "is_true", None, fold([followed(idn("2024-06-30", "08:00"))]), None, False),
        ("order_count", "eq", 2, ORDERS, None, True),
        ("order_count", "eq", 0, EMPTY, None, True),
        ("order_count", "neq", 2, ORDERS, None, False),
        ("order_count", "gte", 2, ORDERS, None, True),
        ("order_count", "gte", 3, ORDERS, None, False),
        ("order_count", "lte", 2, ORDERS, None, True),
        ("order_count", "lte", 1, ORDERS, None, False),
        ("order_count", "between", [2, 2], ORDERS, None, True),
        ("order_count", "between", [3, 9], ORDERS, None, False),
        ("total_spend", "gte", 100, ORDERS, None, True),
        ("total_spend", "gte", 100.01, ORDERS, None, False),
        ("total_spend", "lte", 99.99, ORDERS, None, False),
        ("total_spend", "between", [50, 100.0], ORDERS, None, True),
        ("total_spend", "lte", 0, EMPTY, None, True),
        # The last order is on 06-27 in Jakarta: 3 days before D.
        ("days_since_last_order", "eq", 3, ORDERS, None, True),
        ("days_since_last_order", "neq", 3, ORDERS, None, False),
        ("days_since_last_order", "gte", 3, ORDERS, None, True),
        ("days_since_last_order", "lte", 2, ORDERS, None, False),
        ("days_since_last_order", "between", [1, 7], ORDERS, None, True),
        ("days_since_first_order", "eq", 29, ORDERS, None, True),
        ("received_plan", "eq", "plan-1", fold([sent(idn("2024-06-01"))]), None, True),
        ("received_plan", "eq", "plan-2", fold([sent(idn("2024-06-01"))]), None, False),
        ("received_plan", "neq", "plan-2", fold([sent(idn("2024-06-01"))]), None, True),
        ("received_plan", "neq", "plan-1", fold([sent(idn("2024-06-01"))]), None, False),
        ("received_plan", "in", ["plan-2", "plan-1"], fold([sent(idn("2024-06-01"))]), None, True),
        ("received_plan", "not_in", ["plan-1"], fold([sent(idn("2024-06-01"))]), None, False),
        ("received_plan", "not_in", ["plan-2"], EMPTY, None, True),
        ("read_plan", "eq", "plan-1", fold([read(idn("2024-06-01"))]), None, True),
        ("read_plan", "eq", "plan-1", fold([sent(idn("2024-06-01"))]), None, False),
        ("clicked_plan", "eq", "plan-1", fold([clicked(idn("2024-06-01"))]), None, True),
        ("ordered_product", "eq", "p1", ORDERS, None, True),
        ("ordered_product", "eq", "p2", ORDERS, None, False),
        ("ordered_product", "in", ["p2", "p1"], ORDERS, None, True),
        ("ordered_product", "not_in", ["p1"], ORDERS, None, False),
        ("ordered_product", "neq", "p2", ORDERS, None, True),
    ],
)
def test_operators(
    field: str,
    op: str,
    value: JsonValue,
    rel: Relationship,
    profile: Profile | None,
    expected: bool,
) -> None:
    assert holds(field, op, value, rel, profile) is expected


@pytest.mark.parametrize(
    "field",
    [
        "days_since_last_order",
        "days_since_first_order",
        "days_since_last_cart_add",
        "days_since_last_view",
        "days_since_last_chat",
    ],
)
@pytest.mark.parametrize(
    ("op", "value"), [("eq", 0), ("neq", 5), ("gte", 0), ("lte", 10_000), ("between", [0, 10_000])]
)
def test_days_since_never_matches_a_customer_who_never_did_it(
    field: str, op: str, value: JsonValue
) -> None:
    assert holds(field, op, value, EMPTY) is False


@pytest.mark.parametrize(
    ("field", "event"),
    [
        ("days_since_last_cart_add", cart_added),
        ("days_since_last_view", viewed),
        ("days_since_last_chat", chatted),
        ("days_since_last_order", ordered),
    ],
)
def test_days_since_counts_market_local_dates(field: str, event: object) -> None:
    # 23:30 on 06-29 in Jakarta is yesterday there; in Los Angeles it is still the 29th's
    # morning — also yesterday for a US seller — but 00:30 on the 30th in Jakarta is today.
    yesterday = fold([event(local("ID", "2024-06-29", "23:30"))])  # type: ignore[operator]
    today = fold([event(local("ID", "2024-06-30", "00:30"))])  # type: ignore[operator]
    condition = [Condition(field=field, op="eq", value=1)]
    assert matches(condition, yesterday, None, D, "ID")
    assert not matches(condition, today, None, D, "ID")  # not before the cut-off: never
    assert matches(condition, today, None, D, "US")


def test_total_spend_is_the_spend_of_the_last_365_days() -> None:
    rel = fold([ordered(idn("2023-06-29"), "old", 500.0), ordered(idn("2024-06-01"), "new", 20.0)])
    assert holds("total_spend", "between", [20, 20], rel)
    assert holds("order_count", "eq", 2, rel)  # while order_count is the whole history


def test_conditions_are_anded() -> None:
    rel = fold([followed(idn("2024-01-01")), cart_added(idn("2024-06-28"))])
    follower = Condition(field="is_follower", op="is_true")
    recent_cart = Condition(field="days_since_last_cart_add", op="lte", value=7)
    bought = Condition(field="order_count", op="gte", value=1)
    assert matches([follower, recent_cart], rel, None, D, "ID")
    assert not matches([follower, recent_cart, bought], rel, None, D, "ID")


def test_matching_without_conditions_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one condition"):
        matches([], EMPTY, None, D, "ID")


def test_every_field_has_its_operators() -> None:
    assert len(FIELD_KINDS) == 17
    ops = {op for kind in set(FIELD_KINDS.values()) for op in OPS_BY_KIND[kind]}
    assert ops == {"eq", "neq", "in", "not_in", "gte", "lte", "between", "is_true", "is_false"}


# --- refusals -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "path", "code", "message"),
    [
        (
            {"field": "regoin", "op": "eq", "value": "JK"},
            "conditions[0].field",
            "unknown_field",
            'Unknown field "regoin"; use one of: age_band, city, clicked_plan, ',
        ),
        (
            {"field": "region", "op": "like", "value": "J%"},
            "conditions[0].op",
            "unknown_op",
            'Unknown operator "like"; region takes eq, neq, in, not_in.',
        ),
        (
            {"field": "is_follower", "op": "eq", "value": True},
            "conditions[0].op",
            "op_not_allowed",
            "is_follower does not take eq; it takes is_true, is_false.",
        ),
        (
            {"field": "total_spend", "op": "eq", "value": 100},
            "conditions[0].op",
            "op_not_allowed",
            "total_spend does not take eq; it takes gte, lte, between.",
        ),
        (
            {"field": "order_count", "op": "in", "value": [1, 2]},
            "conditions[0].op",
            "op_not_allowed",
            "order_count does not take in; it takes eq, neq, gte, lte, between.",
        ),
        (
            {"field": "order_count", "op": "between", "value": [5, 1]},
            "conditions[0].value",
            "bad_value",
            "order_count between needs [low, high] with low ≤ high, got [5, 1].",
        ),
        (
            {"field": "order_count", "op": "between", "value": [1]},
            "conditions[0].value",
            "bad_value",
            "order_count between needs [low, high], each a whole number ≥ 0, got [1].",
        ),
        (
            {"field": "total_spend", "op": "between", "value": 5},
            "conditions[0].value",
            "bad_value",
            "total_spend between needs [low, high], each a number ≥ 0, got 5.",
        ),
        (
            {"field": "is_follower", "op": "is_true", "value": True},
            "conditions[0].value",
            "bad_value",
            "is_follower is_true takes no value (send null), got true.",
        ),
        (
            {"field": "received_plan", "op": "eq", "value": 5},
            "conditions[0].value",
            "bad_value",
            "received_plan eq takes a plan id, got 5.",
        ),
        (
            {"field": "ordered_product", "op": "eq", "value": ""},
            "conditions[0].value",
            "bad_value",
            'ordered_product eq takes a product id, got "".',
        ),
        (
            {"field": "ordered_product", "op": "in", "value": []},
            "conditions[0].value",
            "bad_value",
            "ordered_product in needs a list of 1 to 100 values, each a product id, got [].",
        ),
        (
            {"field": "region", "op": "in", "value": ["JK", 7]},
            "conditions[0].value",
            "bad_value",
            'region in needs every listed value to be a text value, got ["JK", 7].',
        ),
        (
            {"field": "region", "op": "eq", "value": " JK"},
            "conditions[0].value",
            "bad_value",
            'region eq takes a text value, got " JK".',
        ),
        (
            {"field": "order_count", "op": "gte", "value": -1},
            "conditions[0].value",
            "bad_value",
            "order_count gte takes a whole number ≥ 0, got -1.",
        ),
        (
            {"field": "order_count", "op": "gte", "value": 1.5},
            "conditions[0].value",
            "bad_value",
            "order_count gte takes a whole number ≥ 0, got 1.5.",
        ),
        (
            {"field": "days_since_last_view", "op": "lte", "value": True},
            "conditions[0].value",
            "bad_value",
            "days_since_last_view lte takes a whole number of days ≥ 0, got true.",
        ),
        (
            {"field": "total_spend", "op": "gte", "value": "100"},
            "conditions[0].value",
            "bad_value",
            'total_spend gte takes a number ≥ 0, got "100".',
        ),
        (
            {"field": "total_spend", "op": "gte", "value": float("nan")},
            "conditions[0].value",
            "bad_value",
            "total_spend gte takes a number ≥ 0, got NaN.",
        ),
        (
            {"field": "region", "op": "eq"},
            "conditions[0].value",
            "bad_value",
            "region eq takes a text value, got null.",
        ),
        (
            {"op": "eq", "value": 1},
            "conditions[0].field",
            "unknown_field",
            "Unknown field null; use one of: ",
        ),
        (
            ["region", "eq", "JK"],
            "conditions[0]",
            "not_an_object",
            "A condition is an object with field, op and value.",
        ),
    ],
)
def test_bad_conditions_are_refused_clearly(
    condition: object, path: str, code: str, message: str
) -> None:
    problems = validate_conditions([condition])  # type: ignore[list-item]
    assert len(problems) == 1
    assert (problems[0].field, problems[0].code) == (path, code)
    assert problems[0].message.startswith(message)


def test_a_list_of_more_than_100_values_is_refused() -> None:
    condition = {"field": "city", "op": "in", "value": [f"city-{i}" for i in range(101)]}
    (problem,) = validate_conditions([condition])
    assert problem.message.startswith("city in needs a list of 1 to 100 values, each a text value")
    assert validate_conditions([{**condition, "value": condition["value"][:100]}]) == []


def test_no_conditions_is_refused() -> None:
    (problem,) = validate_conditions([])
    assert (problem.field, problem.code) == ("conditions", "no_conditions")
    assert problem.message == "A custom segment needs at least one condition."


def test_unknown_keys_are_refused() -> None:
    (problem,) = validate_conditions([{"field": "region", "op": "eq", "value": "JK", "not": 1}])
    assert (problem.field, problem.code) == ("conditions[0]", "unknown_keys")
    assert problem.message == "Unknown keys not; a condition has field, op and value."


def test_every_problem_is_reported_at_once_with_its_position() -> None:
    problems = validate_conditions(
        [
            JAVA[0],
            {"field": "order_count", "op": "between", "value": [3, 1]},
            Condition(field="is_follower", op="is_true"),
            {"field": "nope", "op": "eq", "value": 1},
        ]
    )
    assert [problem.field for problem in problems] == ["conditions[1].value", "conditions[3].field"]


def test_a_bad_condition_cannot_be_built() -> None:
    with pytest.raises(ValidationError, match="order_count between needs"):
        Condition(field="order_count", op="between", value=[3, 1])
    with pytest.raises(ValidationError, match="is_follower does not take eq"):
        Condition(field="is_follower", op="eq", value=True)
    assert Condition(field="order_count", op="between", value=[1, 3]).value == [1, 3]


def test_a_condition_round_trips_through_json() -> None:
    condition = Condition(field="region", op="in", value=["JK", "JB"])
    assert Condition.model_validate_json(condition.model_dump_json()) == condition
