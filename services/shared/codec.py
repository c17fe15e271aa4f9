"""Events to bytes and back, with reasons a person can act on when bytes are bad."""

from __future__ import annotations

from pydantic import ValidationError

from schemas.envelope import Event
from schemas.errors import describe
from schemas.topics import ANY_EVENT_ADAPTER, adapter_for


class DecodeError(ValueError):
    """A record that is not a valid event of its topic; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def encode(event: Event) -> bytes:
    return event.model_dump_json().encode()


def decode(topic: str | None, raw: bytes | None, *, max_bytes: int = 64 * 1024) -> Event:
    """Decode one record of the registry topic `topic` (None: any event type)."""
    if raw is None:
        raise DecodeError("empty value (a tombstone is not an event)")
    if len(raw) > max_bytes:
        raise DecodeError(f"payload too large: {len(raw)} bytes > {max_bytes}")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError(f"not UTF-8: {exc.reason} at byte {exc.start}") from None
    adapter = ANY_EVENT_ADAPTER if topic is None else adapter_for(topic)
    try:
        event: Event = adapter.validate_json(raw)
    except ValidationError as exc:
        raise DecodeError(describe(exc)) from None
    return event
