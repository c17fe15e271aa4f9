"""An error answer quotes at most a short excerpt of what the client sent, once."""

from __future__ import annotations

import json
import re

from services.outreach.api.problems import (
    EXCERPT_CHARS,
    FIELD_MAX_CHARS,
    TEXT_MAX_CHARS,
    FieldError,
    excerpt,
    invalid,
    problem_response,
)


def test_excerpt_keeps_short_texts_and_cuts_long_ones_saying_how_long() -> None:
    assert excerpt("short") == "short"
    cut = excerpt("x" * 5_000_000)
    assert cut == "x" * EXCERPT_CHARS + "… (5000000 characters)"


def test_an_invalid_answer_says_each_message_once_and_bounds_every_text() -> None:
    huge = "V" * 1_000_000
    errors = [
        FieldError(field="content.template_id", message=f"unknown template {huge!r}"),
        FieldError(field=f"content.texts.{huge}", message="bad language"),
    ]
    error = invalid("Invalid plan", errors)
    body = problem_response(error.problem).body

    assert len(body) < 2_000
    answer = json.loads(body)
    assert "V" * 100 not in answer["detail"], "the detail names fields, not values"
    assert answer["errors"][0]["message"].startswith("unknown template 'VVV")
    runs = sorted(len(run) for run in re.findall(rb"V+", bytes(body)))
    assert runs[-1] <= TEXT_MAX_CHARS
    assert runs[-2] <= FIELD_MAX_CHARS, "only the message quotes the value at length"
