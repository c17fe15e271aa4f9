"""Regular expressions of request fields, written to mean the same in every engine that
reads them: pydantic (Rust regex), Python's re and clients' JSON Schema (ECMA-262).

Their `\\s` differ (ECMA's lacks U+0085, Rust's lacks U+001C-U+001F, Python's has
both), so whitespace is spelled out as Python's, which the event schemas check.
"""

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from services.outreach.domain.characters import describe, forbidden_characters

# One character that is not whitespace to Python's str.isspace().
NOT_SPACE = r"[^\t-\r\x1c- \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"

# An id the events accept (schemas.types.Identifier, length aside): no whitespace at
# either end.
TRIMMED = rf"^{NOT_SPACE}(?:[\s\S]*{NOT_SPACE})?$"


def _without_forbidden_characters(*, multiline: bool) -> AfterValidator:
    def check(value: str) -> str:
        found = forbidden_characters(value, multiline=multiline)
        if found:
            raise PydanticCustomError(
                "forbidden_characters", "{message}", {"message": describe(found)}
            )
        return value

    return AfterValidator(check)


# A name (one line) or a text (line feeds and tabs allowed) without control or bidi
# override characters (services/outreach/domain/characters.py).
CLEAN_NAME = _without_forbidden_characters(multiline=False)
CLEAN_TEXT = _without_forbidden_characters(multiline=True)
