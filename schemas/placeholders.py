"""The placeholders a plan's texts may carry (SPEC section 5), and how they are spelled.

Part of the contract: the API refuses a text using anything else, and delivery fills
these in per recipient at fan-out (services/delivery/domain/placeholders.py), so no
customer receives a raw placeholder.

The syntax is `str.format`'s without its features: `{name}` for one of the three names,
`{{` and `}}` for a literal brace. `{{name}}` of a known name counts as the placeholder
itself, since a customer must never read "{customer_name}" whichever way it was typed.
Anything else braced (`{0}`, `{}`, `{x!r}`, `{customer_name.__class__}`, an unclosed
`{name`, a lone `}`) is unknown: seller-written text is untrusted, and is never passed to
`str.format`, `eval` or attribute access.
"""

from __future__ import annotations

import re

PLACEHOLDERS = frozenset({"customer_name", "shop_name", "coupon"})

# Left to right: a known placeholder in doubled braces, an escaped brace, a braced field,
# an opening brace that is never closed (reported up to the next space or brace), a lone
# closing brace.
TOKEN = re.compile(
    r"\{\{(?:" + "|".join(sorted(PLACEHOLDERS)) + r")\}\}|\{\{|\}\}|\{[^{}]*\}|\{[^{}\s]*|\}"
)


def placeholder_name(token: str) -> str | None:
    """The known placeholder a token of `TOKEN` names, or None."""
    name = token.strip("{}")
    if name in PLACEHOLDERS and token in (f"{{{name}}}", f"{{{{{name}}}}}"):
        return name
    return None


def is_escaped_brace(token: str) -> bool:
    return token in ("{{", "}}")


def placeholders_in(text: str) -> set[str]:
    """The known placeholders a text uses, e.g. {"customer_name", "shop_name"}."""
    names = (placeholder_name(match.group()) for match in TOKEN.finditer(text))
    return {name for name in names if name is not None}


def unknown_placeholders(text: str) -> list[str]:
    """Every braced fragment that is neither a known placeholder nor an escaped brace, in
    order. Empty means every brace of the text is accounted for."""
    return [
        token
        for token in (match.group() for match in TOKEN.finditer(text))
        if not is_escaped_brace(token) and placeholder_name(token) is None
    ]
