"""A dead letter's reason as a short category, for counting and grouping.

The `error` of a DeadLetter is free text written for a person; metrics and
`crm dead-letters list` need a handful of stable words instead. A letter that carries
its own `reason` field keeps it.
"""

from __future__ import annotations

import re

from prometheus_client import Counter

from schemas.dead_letter import DeadLetter

DEAD_LETTER_REASONS = Counter(
    "crm_dead_letter_reasons_total",
    "Dead letters written, by service and reason category (see `crm dead-letters list`).",
    ["service", "reason"],
)

_PREFIXES = (
    ("invalid JSON", "invalid_json"),
    ("not UTF-8", "not_utf8"),
    ("payload too large", "too_large"),
    ("empty value", "empty"),
    ("event_type:", "event_type"),
    ("schema_version:", "schema_version"),
)
# `field: message` (one per problem) is how schemas/errors.py describes a failed schema.
_FIELD_PROBLEM = re.compile(r"^(event|[A-Za-z_][\w.\[\]]*): ")


def reason_of(error: str) -> str:
    for prefix, reason in _PREFIXES:
        if error.startswith(prefix):
            return reason
    if _FIELD_PROBLEM.match(error):
        return "schema"
    return "rejected"  # a handler refused a well-formed event


def letter_reason(letter: DeadLetter) -> str:
    own = getattr(letter, "reason", None)
    return own if isinstance(own, str) and own else reason_of(letter.error)
