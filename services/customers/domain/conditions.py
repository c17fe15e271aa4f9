"""Custom segments (SPEC section 5): an AND of conditions `{field, op, value}`.

What each field measures, as of day D (cut-off D 00:00 market-local):

- region, city, gender, age_band, language: the profile's value, compared exactly. An
  unknown value (no profile, or null) matches no condition, neq and not_in included:
  a seller targeting "not in Java" means customers known to live elsewhere.
- is_follower: following just before the cut-off.
- order_count: every order before the cut-off, over the customer's whole history.
- total_spend: GMV in the last 365 days, the same spend high_value_customers ranks by.
- days_since_*: whole market-local days from the date of the latest X (the first order for
  days_since_first_order) to D. A customer who never did X before the cut-off matches no
  days_since_* condition on X, whatever the operator: "never" is not a number of days.
- received_plan, read_plan, clicked_plan, ordered_product: eq X = X among the relationship's
  ids, neq X = not among them; in / not_in = any / none of the listed ids. These read the
  capped recent ids (relationship.MAX_PLANS, MAX_ORDERED_PRODUCTS) as folded, whatever D.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Self

from pydantic import JsonValue, model_validator
from pydantic_core import PydanticCustomError

from schemas.envelope import StrictModel
from services.customers.domain.condition_fields import (
    FIELD_KINDS,
    Problem,
    condition_problems,
)
from services.customers.domain.cutoff import Cutoff, cutoff
from services.customers.domain.profile import Profile
from services.customers.domain.relationship import Relationship
from services.customers.domain.segments import high_value_spend

FEWER_THAN_3_CONDITIONS = "fewer_than_3_conditions"
RECOMMENDED_CONDITIONS = 3


class Condition(StrictModel):
    """One validated condition; constructing a bad one raises with the seller's message."""

    field: str
    op: str
    value: JsonValue = None

    @model_validator(mode="after")
    def _fits_the_field_table(self) -> Self:
        problems = condition_problems(self.field, self.op, self.value, "condition")
        if problems:
            first = problems[0]
            raise PydanticCustomError(first.code, "{message}", {"message": first.message})
        return self


def validate_conditions(conditions: Sequence[Condition | Mapping[str, JsonValue]]) -> list[Problem]:
    """Every problem of a custom segment's conditions, as sent (JSON objects) or built.

    Empty means the segment may be saved; see `warnings` for advice that does not block.
    """
    if not conditions:
        message = "A custom segment needs at least one condition."
        return [Problem(field="conditions", code="no_conditions", message=message)]
    problems: list[Problem] = []
    for index, condition in enumerate(conditions):
        path = f"conditions[{index}]"
        if isinstance(condition, Condition):
            continue  # validated when it was built
        if not isinstance(condition, Mapping):
            message = "A condition is an object with field, op and value."
            problems.append(Problem(field=path, code="not_an_object", message=message))
            continue
        unknown = sorted(set(condition) - {"field", "op", "value"})
        if unknown:
            message = f"Unknown keys {', '.join(unknown)}; a condition has field, op and value."
            problems.append(Problem(field=path, code="unknown_keys", message=message))
        problems += condition_problems(
            condition.get("field"), condition.get("op"), condition.get("value"), path
        )
    return problems


def warnings(conditions: Sequence[object]) -> list[str]:
    """Advice that does not block saving: ["fewer_than_3_conditions"] below three."""
    return [FEWER_THAN_3_CONDITIONS] if len(conditions) < RECOMMENDED_CONDITIONS else []


def matches(
    conditions: Iterable[Condition],
    rel: Relationship,
    profile: Profile | None,
    as_of: date,
    market: str,
) -> bool:
    """Whether the customer meets every condition as of `as_of` in `market`."""
    return matches_at(conditions, rel, profile, cutoff(as_of, market))


def matches_at(
    conditions: Iterable[Condition], rel: Relationship, profile: Profile | None, cut: Cutoff
) -> bool:
    """`matches` with the cut-off already made, for a scan over many customers."""
    listed = list(conditions)
    if not listed:
        # An empty AND would be every customer; a segment has at least one condition.
        raise ValueError("a custom segment needs at least one condition")
    return all(_holds(condition, rel, profile, cut) for condition in listed)


Measured = str | bool | float | frozenset[str] | None
"""What a field reads on one customer: None when unknown or it never happened."""


def measure(field: str, rel: Relationship, profile: Profile | None, cut: Cutoff) -> Measured:
    """The value `field` has for this customer as of the cut-off."""
    if FIELD_KINDS[field] == "attribute":
        return None if profile is None else profile.attribute(field)
    return _MEASURES[field](rel, cut)


def _days_since(instant: datetime | None, cut: Cutoff) -> int | None:
    before = cut.before(instant)
    return None if before is None else cut.days_since(before)


_MEASURES: Mapping[str, Callable[[Relationship, Cutoff], Measured]] = {
    "is_follower": lambda rel, cut: rel.is_follower_at(cut.at),
    "order_count": lambda rel, cut: rel.order_count_before(cut.at),
    "total_spend": high_value_spend,
    "days_since_last_order": lambda rel, cut: _days_since(rel.last_order_before(cut.at), cut),
    "days_since_first_order": lambda rel, cut: _days_since(rel.first_order_at, cut),
    "days_since_last_cart_add": lambda rel, cut: _days_since(rel.last_cart_add_at, cut),
    "days_since_last_view": lambda rel, cut: _days_since(rel.last_view_at, cut),
    "days_since_last_chat": lambda rel, cut: _days_since(rel.last_chat_at, cut),
    "received_plan": lambda rel, cut: frozenset(rel.received_plans),
    "read_plan": lambda rel, cut: frozenset(rel.read_plans),
    "clicked_plan": lambda rel, cut: frozenset(rel.clicked_plans),
    "ordered_product": lambda rel, cut: frozenset(rel.ordered_products),
}


def _holds(condition: Condition, rel: Relationship, profile: Profile | None, cut: Cutoff) -> bool:
    actual = measure(condition.field, rel, profile, cut)
    op, value = condition.op, condition.value
    if op in ("is_true", "is_false"):
        return actual is (op == "is_true")
    if actual is None:
        return False  # unknown, or never happened: see the module docstring
    if isinstance(actual, frozenset):
        wanted = _texts(value)
        return bool(actual & wanted) == (op in ("eq", "in"))
    if isinstance(actual, str):
        wanted = _texts(value)
        return (actual in wanted) == (op in ("eq", "in"))
    return _compares(op, float(actual), value)


def _compares(op: str, actual: float, value: JsonValue) -> bool:
    if op == "between":
        low, high = _numbers(value)
        return low <= actual <= high
    (bound,) = _numbers(value)
    match op:
        case "eq":
            return actual == bound
        case "neq":
            return actual != bound
        case "gte":
            return actual >= bound
        case "lte":
            return actual <= bound
    raise ValueError(f"{op} does not compare numbers")


def _texts(value: JsonValue) -> frozenset[str]:
    # eq/neq take one id or text, in/not_in a list: as a set, both ask "is it among these".
    listed = value if isinstance(value, list) else [value]
    return frozenset(item for item in listed if isinstance(item, str))


def _numbers(value: JsonValue) -> list[float]:
    listed = value if isinstance(value, list) else [value]
    return [float(item) for item in listed if isinstance(item, int | float)]
