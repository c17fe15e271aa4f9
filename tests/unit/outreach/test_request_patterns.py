"""The request patterns agree with the event schemas on every whitespace character, in
pydantic's regex engine (what the API runs) and in Python's (what the schemas run)."""

from __future__ import annotations

import re
import sys
from typing import Annotated

from pydantic import Field, TypeAdapter, ValidationError

from schemas.types import Identifier
from services.outreach.api.patterns import NOT_SPACE, TRIMMED

SPACES = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()]
IDENTIFIER: TypeAdapter[str] = TypeAdapter(Identifier)
TRIMMED_FIELD: TypeAdapter[str] = TypeAdapter(Annotated[str, Field(pattern=TRIMMED)])
NOT_BLANK_FIELD: TypeAdapter[str] = TypeAdapter(Annotated[str, Field(pattern=NOT_SPACE)])


def _accepts(adapter: TypeAdapter[str], value: str) -> bool:
    try:
        adapter.validate_python(value)
    except ValidationError:
        return False
    return True


def test_an_id_the_api_accepts_is_one_the_events_accept() -> None:
    samples = ["a", "a b", "é", "a\nb", "x\u200bx"]
    samples += [edge for space in SPACES for edge in (space + "x", "x" + space, space)]
    for value in samples:
        assert _accepts(TRIMMED_FIELD, value) == _accepts(IDENTIFIER, value), repr(value)


def test_a_text_of_whitespace_only_is_blank_to_every_engine() -> None:
    for space in SPACES:
        assert not _accepts(NOT_BLANK_FIELD, space * 2), repr(space)
        assert re.search(NOT_SPACE, space * 2) is None, repr(space)
    assert _accepts(NOT_BLANK_FIELD, " \u0085 x ")
