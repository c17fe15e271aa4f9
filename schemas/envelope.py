"""The envelope every event carries, and the strictness every schema shares."""

from typing import Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict

ENVELOPE_FIELDS = ("event_id", "event_type", "schema_version", "occurred_at")


class StrictModel(BaseModel):
    """Base of every schema model: events and the values inside them (criteria, buttons)."""

    # Strict: "120" is not 120 and 1 is not True, so producers find their bugs here
    # rather than in a consumer. JSON strings still become datetimes, dates and UUIDs.
    # Finite floats only: one NaN would poison every sum and rate built on it.
    # A literal ConfigDict, inherited: that is what the pydantic mypy plugin reads
    # to refuse assignments to frozen fields.
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)


def _envelope_required(schema: dict[str, Any]) -> None:
    # event_type and schema_version have Python defaults for convenience, but on
    # the wire they are part of the envelope: producers must send them.
    own = [name for name in schema.get("required", []) if name not in ENVELOPE_FIELDS]
    schema["required"] = [*ENVELOPE_FIELDS, *own]


class Event(StrictModel):
    """Envelope of every event; subclasses add their own fields at the top level."""

    model_config = ConfigDict(json_schema_extra=_envelope_required)

    event_id: UUID
    event_type: str
    schema_version: Literal[1] = 1
    occurred_at: AwareDatetime
