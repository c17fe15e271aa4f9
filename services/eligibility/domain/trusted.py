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
def _template(cls: type[BaseModel]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Every field in declaration order (the JSON follows it), with its default (None
    for required ones, always given); and the fields whose default is mutable."""
    fields = cls.model_fields
    template = {n: None if f.is_required() else f.default for n, f in fields.items()}
    mutable = tuple(n for n, d in template.items() if isinstance(d, dict | list | set))
    return template, mutable


def trusted(cls: type[M], **values: Any) -> M:
    """`cls(**values)` for values that are valid as they are: every required field
    given, defaults for the others, as validation would give them."""
    template, mutable = _template(cls)
    fields = template.copy()
    fields.update(values)  # keeps the declaration order
    for name in mutable:
        if name not in values:
            # Like validation: no two instances share a mutable default.
            fields[name] = fields[name].copy()
    model = cls.__new__(cls)
    object.__setattr__(model, "__dict__", fields)
    object.__setattr__(model, "__pydantic_fields_set__", set(values))
    object.__setattr__(model, "__pydantic_extra__", None)
    object.__setattr__(model, "__pydantic_private__", None)
    return model


def replaced(model: M, **update: Any) -> M:
    """`model.model_copy(update=update)` for values valid as they are, at a third of its
    cost (no copy of private attributes, no deep-copy machinery): the per-report path."""
    cls = type(model)
    fields = model.__dict__.copy()
    fields.update(update)
    copy = cls.__new__(cls)
    object.__setattr__(copy, "__dict__", fields)
    object.__setattr__(
        copy, "__pydantic_fields_set__", model.__pydantic_fields_set__ | update.keys()
    )
    object.__setattr__(copy, "__pydantic_extra__", None)
    object.__setattr__(copy, "__pydantic_private__", None)
    return copy
