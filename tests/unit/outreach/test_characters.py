"""Which characters names and texts may not carry."""

from __future__ import annotations

import pytest

from services.outreach.domain.characters import forbidden_characters


@pytest.mark.parametrize(
    ("value", "multiline", "found"),
    [
        ("Flash sale ลดราคา 闪购", False, []),
        ("Line one\n\tLine two", True, []),
        ("Line one\nLine two", False, ["U+000A"]),
        ("Tab\there", False, ["U+0009"]),
        ("NUL\x00 and NUL\x00", True, ["U+0000"]),
        ("\x1b[31mred\x1b[0m", True, ["U+001B"]),
        ("CR\r\n", True, ["U+000D"]),
        ("DEL\x7f C1\x85 CSI\x9b", True, ["U+007F", "U+0085", "U+009B"]),
        (
            "\u202aLRE \u202bRLE \u202cPDF \u202dLRO \u202eRLO",
            True,
            ["U+202A", "U+202B", "U+202C", "U+202D", "U+202E"],
        ),
        ("\u2066LRI \u2067RLI \u2068FSI \u2069PDI", True, ["U+2066", "U+2067", "U+2068", "U+2069"]),
        # Marks that RTL writing needs are not overrides.
        ("\u200fمرحبا\u200e", False, []),
    ],
)
def test_forbidden_characters(value: str, multiline: bool, found: list[str]) -> None:
    assert forbidden_characters(value, multiline=multiline) == found
