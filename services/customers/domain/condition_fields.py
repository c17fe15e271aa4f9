"""Which fields a custom-segment condition may name, the operators each takes and the values
they need (SPEC section 5), as a table and the checks that read it.

Every check returns `Problem`s with a sentence the seller can act on, never raises.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, JsonValue

from schemas.types import IDENTIFIER_MAX_LENGTH as MAX_ID

FieldKind = Literal["attribute", "flag", "count", "amount", "days", "plan", "product"]
Op = Literal["eq", "neq", "in", "not_in", "gte", "lte", "between", "is_true", "is_false"]
OPS: tuple[Op, ...] = ("eq", "neq", "in", "not_in", "gte", "lte", "between", "is_true", "is_false")

FIELD_KINDS: Mapping[str, FieldKind] = {
    "region": "attribute",
    "city": "attribute",
    "gender": "attribute",
    "age_band": "attribute",
    "language": "attribute",
    "is_follower": "flag",
    "order_count": "count",
    "total_spend": "amount",
    "days_since_last_order": "days",
    "days_since_first_order": "days",
    "days_since_last_cart_add": "days",
    "days_since_last_view": "days",
    "days_since_last_chat": "days",
    "received_plan": "plan",
    "read_plan": "plan",
    "clicked_plan": "plan",
    "ordered_product": "product",
}

_TEXT_OPS: tuple[Op, ...] = ("eq", "neq", "in", "not_in")
_WHOLE_NUMBER_OPS: tuple[Op, ...] = ("eq", "neq", "gte", "lte", "between")
OPS_BY_KIND: Mapping[FieldKind, tuple[Op, ...]] = {
    "attribute": _TEXT_OPS,
    "flag": ("is_true", "is_false"),
    "count": _WHOLE_NUMBER_OPS,
    # A sum of money is rarely exactly any number, so amounts compare by range only.
    "amount": ("gte", "lte", "between"),
    "days": _WHOLE_NUMBER_OPS,
    "plan": _TEXT_OPS,
    "product": _TEXT_OPS,
}
# What one value of each kind is, for messages: "received_plan eq takes a plan id".
_VALUE_NAMES: Mapping[FieldKind, str] = {
    "attribute": "a text value",
    "flag": "no value",
    "count": "a whole number ≥ 0",
    "amount": "a number ≥ 0",
    "days": "a whole number of days ≥ 0",
    "plan": "a plan id",
    "product": "a product id",
}
MAX_LIST_VALUES = 100


class Problem(BaseModel):
    """One reason a custom segment cannot be saved.

    `field` is a path into the request ("conditions[2].value"), `code` a stable name for
    programs, `message` a sentence for the seller.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    field: str
    code: str
    message: str


def condition_problems(field: object, op: object, value: JsonValue, path: str) -> list[Problem]:
    """Every problem of one condition `{field, op, value}` found at `path`."""
    if not isinstance(field, str) or field not in FIELD_KINDS:
        known = ", ".join(sorted(FIELD_KINDS))
        message = f"Unknown field {_show(field)}; use one of: {known}."
        return [_problem(f"{path}.field", "unknown_field", message)]
    kind = FIELD_KINDS[field]
    allowed = OPS_BY_KIND[kind]
    if not isinstance(op, str) or op not in OPS:
        message = f"Unknown operator {_show(op)}; {field} takes {_listed(allowed)}."
        return [_problem(f"{path}.op", "unknown_op", message)]
    if op not in allowed:
        message = f"{field} does not take {op}; it takes {_listed(allowed)}."
        return [_problem(f"{path}.op", "op_not_allowed", message)]
    reason = _value_problem(kind, op, value)
    if reason is None:
        return []
    message = f"{field} {op} {reason}, got {_show(value)}."
    return [_problem(f"{path}.value", "bad_value", message)]


def _value_problem(kind: FieldKind, op: str, value: JsonValue) -> str | None:
    # The reason a value does not fit (kind, op), completing "{field} {op} ...", or None.
    one = _VALUE_NAMES[kind]
    if op in ("is_true", "is_false"):
        return None if value is None else "takes no value (send null)"
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value or len(value) > MAX_LIST_VALUES:
            return f"needs a list of 1 to {MAX_LIST_VALUES} values, each {one}"
        if any(not _fits(kind, item) for item in value):
            return f"needs every listed value to be {one}"
        return None
    if op == "between":
        if not isinstance(value, list) or len(value) != 2 or not all(_fits(kind, v) for v in value):
            return f"needs [low, high], each {one}"
        low, high = (_number(bound) for bound in value)
        ordered = low is not None and high is not None and low <= high
        return None if ordered else "needs [low, high] with low ≤ high"
    return None if _fits(kind, value) else f"takes {one}"


def _fits(kind: FieldKind, value: JsonValue) -> bool:
    # bool is an int in Python, but true is not a count.
    number = _number(value)
    if kind in ("count", "days"):
        return isinstance(value, int) and number is not None and number >= 0
    if kind == "amount":
        return number is not None and number >= 0
    if kind in ("attribute", "plan", "product"):
        # The same rule as every id and label in the schemas: trimmed, 1-128 characters.
        return isinstance(value, str) and value == value.strip() and 0 < len(value) <= MAX_ID
    return False


def _number(value: JsonValue) -> float | None:
    # A finite JSON number; true and false are ints in Python but not numbers here.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value if math.isfinite(value) else None


def _problem(field: str, code: str, message: str) -> Problem:
    return Problem(field=field, code=code, message=message)


def _listed(ops: tuple[Op, ...]) -> str:
    return ", ".join(ops)


def _show(value: object) -> str:
    # JSON spelling, so the seller sees what they sent: null, true, "JK", [1, 2].
    try:
        shown = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        shown = repr(value)
    # An excerpt: a huge value is not quoted back whole.
    return shown if len(shown) <= 100 else f"{shown[:100]}…"
