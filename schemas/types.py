"""Shared field types, so every event states a constraint the same way.

Formats with a meaning beyond their shape (a real month, an ISO week that exists)
are checked by a validator with a readable message; the JSON Schema still carries
the equivalent pattern so producers in other languages get the same contract.
"""

import json
import re
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from pydantic import AfterValidator, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

IDENTIFIER_MAX_LENGTH = 128

# Non-empty, no leading or trailing whitespace: " seller-1" and "seller-1" would
# otherwise be two sellers.
_TRIMMED_PATTERN = r"^\S(?:[\s\S]*\S)?$"
_MONTH_PATTERN = r"^[0-9]{4}-(?:0[1-9]|1[0-2])$"
_ISO_WEEK_PATTERN = r"^[0-9]{4}-W(?:0[1-9]|[1-4][0-9]|5[0-3])$"

IDENTIFIER_JSON_SCHEMA = {
    "type": "string",
    "minLength": 1,
    "maxLength": IDENTIFIER_MAX_LENGTH,
    "pattern": _TRIMMED_PATTERN,
}


def field_error(field: str, error_type: str, template: str, **context: Any) -> PydanticCustomError:
    """An error of a cross-field check, blamed on `field`.

    Model validators report at the model's root; `errors.describe` reads
    `context["field"]` to name the field the reader has to fix.
    """
    return PydanticCustomError(error_type, template, {"field": field, **context})


def _format_check(pattern: str, error_type: str, what: str) -> Callable[[str], str]:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if compiled.fullmatch(value) is None:
            raise PydanticCustomError(
                error_type,
                "must be {what}, got {value}",
                # An excerpt: a 5 MB value is not quoted back whole.
                {
                    "what": what,
                    "value": json.dumps(value[:100], ensure_ascii=False)
                    + ("…" if len(value) > 100 else ""),
                },
            )
        return value

    return check


def _week_exists(value: str) -> str:
    year, week = int(value[:4]), int(value[6:])
    try:
        date.fromisocalendar(year, week, 1)
    except ValueError:
        raise PydanticCustomError(
            "iso_week_missing", "ISO year {year} has no week {week}", {"year": year, "week": week}
        ) from None
    return value


Identifier = Annotated[
    str,
    Field(min_length=1, max_length=IDENTIFIER_MAX_LENGTH),
    AfterValidator(
        _format_check(_TRIMMED_PATTERN, "untrimmed", "free of leading and trailing whitespace")
    ),
    WithJsonSchema(IDENTIFIER_JSON_SCHEMA),
]
"""An id (seller, customer, plan, message, …): 1-128 characters, trimmed."""

Label = Identifier
"""A short name, code or attribute value (reason, policy version, city, …); same rules as ids."""

Month = Annotated[
    str,
    AfterValidator(_format_check(_MONTH_PATTERN, "month_format", "a month 'YYYY-MM' (01-12)")),
    WithJsonSchema({"type": "string", "pattern": _MONTH_PATTERN}),
]

IsoWeek = Annotated[
    str,
    AfterValidator(
        _format_check(_ISO_WEEK_PATTERN, "iso_week_format", "an ISO week 'YYYY-Www' (W01-W53)")
    ),
    AfterValidator(_week_exists),
    WithJsonSchema({"type": "string", "pattern": _ISO_WEEK_PATTERN}),
]

Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
"""An ISO 4217 code: three uppercase letters."""

NonNegativeInt = Annotated[int, Field(ge=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
# The largest amount of money one event may carry (an order's GMV). Far above any real
# order, and small enough that sums of them stay finite and exact to the cent for
# billions of orders; a larger value is an upstream bug, dead-lettered.
MONEY_MAX = 1e12
Money = Annotated[float, Field(ge=0, le=MONEY_MAX)]
Rate = Annotated[float, Field(ge=0, le=1)]
"""A fraction 0-1 (read rate, block rate)."""
SesScore = Annotated[float, Field(ge=0, le=5)]
Level = Annotated[int, Field(ge=1, le=5)]
