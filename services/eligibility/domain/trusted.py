"""Frozen models built from values already known to be valid, without validating them.

A tick builds some eight models per seller (the status, its criteria, its performance,
tallies) out of validated state, a validated policy and the calendar: validating them
again costs more than the rest of the decision, and pydantic's `model_construct` is
slower still for models this small. The values must be exactly what validation would
give (floats as floats); tests/unit/eligibility checks that decisions survive a round
trip through validation unchanged.
"""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)


@cache
def _fields(cls: type[BaseModel]) -> tuple[tuple[str, ...], dict[str, Any]]:
    fields = cls.model_fields
    return tuple(fields), {n: f.default for n, f in fields.items() if not f.is_required()}


def trusted(cls: type[M], **values: Any) -> M:
    """`cls(**values)` for values that are valid as they are: every required field
    given, defaults for the others, as validation would give them."""
    names, defaults = _fields(cls)
    model = cls.__new__(cls)
    # In declaration order: the JSON follows it, and must be what validation gives.
    fields = {n: values[n] if n in values else defaults[n] for n in names}
    object.__setattr__(model, "__dict__", fields)
    object.__setattr__(model, "__pydantic_fields_set__", set(values))
    object.__setattr__(model, "__pydantic_extra__", None)
    object.__setattr__(model, "__pydantic_private__", None)
    return model
