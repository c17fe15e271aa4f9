"""What `crm publish` sends: every line validated before anything reaches Kafka.

A line is either `{"topic": …, "key": …, "value": {event}}` (the shape of
shared/examples/events.jsonl) or a bare event object. The topic, when left out,
follows from event_type; the key, when left out, from the topic's key field. A line
is held to what every consumer admits (services/shared/admission.py), its times judged
against now: the timestamp its record will get.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from schemas.envelope import Event
from schemas.errors import describe
from schemas.topics import adapter_for, key_of, topic, topic_of
from services.shared.admission import Plausibility, implausible_time
from services.shared.clock import utc_now
from services.shared.codec import encode


class Refused(ValueError):
    """A line that will not be published, with the reason."""


@dataclass(frozen=True)
class Outgoing:
    topic: str
    key: str | None
    event: Event
    value: bytes


DEFAULT_PLAUSIBILITY = Plausibility()


def parse_event(
    obj: object,
    *,
    max_bytes: int,
    now: datetime | None = None,
    rule: Plausibility = DEFAULT_PLAUSIBILITY,
) -> Outgoing:
    if not isinstance(obj, dict):
        raise Refused(f"expected a JSON object, got {type(obj).__name__}")
    wrapped = "value" in obj and "event_type" not in obj
    value = obj["value"] if wrapped else obj
    if not isinstance(value, dict):
        raise Refused("value: expected a JSON object")
    event_type = value.get("event_type")
    try:
        topic_name = obj.get("topic") if wrapped else None
        spec = topic(topic_name) if topic_name else topic_of(str(event_type))
    except KeyError as exc:
        raise Refused(str(exc.args[0]) if exc.args else str(exc)) from None
    try:
        # JSON, not Python, validation: strict mode accepts dates as strings only there,
        # exactly as a consumer reading the topic will.
        event: Event = adapter_for(spec.name).validate_json(json.dumps(value))
    except ValidationError as exc:
        raise Refused(describe(exc)) from None
    payload = encode(event)
    if len(payload) > max_bytes:
        raise Refused(f"payload too large: {len(payload)} bytes > {max_bytes}")
    key = key_of(event)
    given = obj.get("key") if wrapped else None
    if given is not None and key is not None and given != key:
        raise Refused(f"key {given!r} does not match {spec.key_field} {key!r}")
    reason = implausible_time(event, now or utc_now(), rule)
    if reason is not None:
        raise Refused(reason)
    return Outgoing(spec.name, key, event, payload)


def _refuse_constant(name: str) -> object:
    # Python's json accepts NaN and Infinity; JSON (and every other producer) does not.
    raise Refused(f"invalid JSON: {name} is not a JSON number")


def parse_lines(
    lines: Iterable[str],
    *,
    max_bytes: int,
    now: datetime | None = None,
    rule: Plausibility = DEFAULT_PLAUSIBILITY,
) -> tuple[list[Outgoing], list[str]]:
    """Parse JSON lines; returns what is sendable and one error per refused line."""
    now = now or utc_now()
    good: list[Outgoing] = []
    errors: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        size = len(line.encode())
        if size > max_bytes:
            errors.append(f"line {number}: payload too large: {size} bytes > {max_bytes}")
            continue
        try:
            obj = json.loads(line, parse_constant=_refuse_constant)
        except json.JSONDecodeError as exc:
            errors.append(f"line {number}: invalid JSON: {exc.msg} at column {exc.colno}")
            continue
        except Refused as exc:
            errors.append(f"line {number}: {exc}")
            continue
        try:
            good.append(parse_event(obj, max_bytes=max_bytes, now=now, rule=rule))
        except Refused as exc:
            errors.append(f"line {number}: {exc}")
    return good, errors
