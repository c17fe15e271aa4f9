"""Characters no name or text a seller writes may carry (they reach customers' chats).

Control characters (Unicode Cc: C0, DEL, C1 — NUL and ESC among them) can hide or
rewrite what a terminal or a log shows; bidi overrides and isolates (U+202A–U+202E,
U+2066–U+2069) make a text read differently from what it is. Texts keep line feeds and
tabs; names keep neither.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

BIDI_CONTROLS = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))
TEXT_WHITESPACE = frozenset("\n\t")


def forbidden_characters(value: str, *, multiline: bool) -> list[str]:
    """The forbidden characters of `value` as code points (`U+0000`), each once, in the
    order they first appear."""
    allowed = TEXT_WHITESPACE if multiline else frozenset()
    found: dict[str, None] = {}
    for char in value:
        if char in allowed:
            continue
        if char in BIDI_CONTROLS or unicodedata.category(char) == "Cc":
            found.setdefault(f"U+{ord(char):04X}", None)
    return list(found)


def describe(code_points: Iterable[str]) -> str:
    listed = list(code_points)
    shown = ", ".join(listed[:5]) + (f" and {len(listed) - 5} more" if len(listed) > 5 else "")
    return f"contains control or bidi-override characters ({shown}); remove them"
