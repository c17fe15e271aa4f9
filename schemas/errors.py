"""One readable line per problem of a refused event, for `crm publish` and dead letters."""

import json
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from schemas.topics import event_classes, topic_of

_ROOT = "event"
_INPUT_SHOWN_MAX = 60
# Errors whose message does not say what was received; showing the value saves
# the reader a trip to the raw record.
_INPUT_NOT_IN_MESSAGE = {
    "literal_error",
    "greater_than",
    "greater_than_equal",
    "less_than",
    "less_than_equal",
    "finite_number",
    "string_pattern_mismatch",
    "timezone_aware",
}


def _shows_input(kind: str) -> bool:
    return kind in _INPUT_NOT_IN_MESSAGE or kind.endswith(("_type", "_parsing"))


def describe(exc: ValidationError) -> str:
    """E.g. `ses: Input should be less than or equal to 5 (got 7); seller_id: Field required`."""
    return "; ".join(_describe(error) for error in exc.errors(include_url=False))


def _describe(error: ErrorDetails) -> str:
    kind, ctx = error["type"], error.get("ctx", {})
    if kind == "json_invalid":
        return f"invalid JSON: {ctx.get('error', error['msg'])}"
    if kind == "union_tag_invalid":
        return f"event_type: {_wrong_event_type(ctx['tag'], ctx['expected_tags'])}"
    if kind == "union_tag_not_found":
        return "event_type: Field required (it names the event's schema)"
    location = _location(error["loc"], ctx)
    if not location and kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"{_ROOT}: must be a JSON object, got {_json_kind(error['input'])}"
    message = error["msg"]
    if location == "schema_version" and kind == "literal_error":
        message = f"unsupported version {json.dumps(error['input'])} (supported: {ctx['expected']})"
    elif _shows_input(kind) and _is_scalar(error["input"]):
        message = f"{message} (got {_shorten(json.dumps(error['input'], ensure_ascii=False))})"
    return f"{location or _ROOT}: {message}"


def _wrong_event_type(tag: str, expected_tags: str) -> str:
    expected = "expected one of " + expected_tags.replace("'", "")
    if tag in event_classes():
        return f"{tag!r} belongs on topic {topic_of(tag).name}, not this one ({expected})"
    return f"unknown event type {tag!r} ({expected})"


def _location(loc: Sequence[int | str], ctx: dict[str, Any]) -> str:
    parts = list(loc)
    # A discriminated union puts the chosen event type first: "SellerMetricsReported.ses".
    if parts and isinstance(parts[0], str) and parts[0] in event_classes():
        parts = parts[1:]
    if "field" in ctx:
        parts.append(ctx["field"])
    text = ""
    for index, part in enumerate(parts):
        if part == "[key]":
            continue
        if index + 1 < len(parts) and parts[index + 1] == "[key]":
            text += f" key {part!r}"
        elif isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


def _shorten(text: str) -> str:
    if len(text) <= _INPUT_SHOWN_MAX:
        return text
    return text[: _INPUT_SHOWN_MAX - 1] + "…"


def _is_scalar(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "null" if value is None else type(value).__name__
