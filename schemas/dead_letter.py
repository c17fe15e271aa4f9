"""Input a processor could not use, kept with the reason so nothing is lost silently."""

from typing import Annotated, Literal

from pydantic import Field

from schemas.envelope import Event
from schemas.types import Label, NonNegativeInt


class DeadLetter(Event):
    """A record that was not JSON, failed its schema or held an impossible value."""

    event_type: Literal["DeadLetter"] = "DeadLetter"
    source_topic: Label
    partition: NonNegativeInt
    offset: NonNegativeInt
    key: str | None = Field(description="The record's key as received, if any.")
    raw: str = Field(
        description="The record's value as received, as UTF-8 (undecodable bytes replaced)."
    )
    error: Annotated[str, Field(min_length=1)]
    service: Label


class DeadLetterRedriven(Event):
    """A dead letter sent back to its source topic, written in the same transaction as the
    re-sent record; keyed by the dead letter's id on a compacted topic, so
    `crm dead-letters redrive` never sends one twice."""

    event_type: Literal["DeadLetterRedriven"] = "DeadLetterRedriven"
    dead_letter_id: Annotated[str, Field(min_length=1, description="The DeadLetter's event_id.")]
    source_topic: Label
    partition: NonNegativeInt
    offset: NonNegativeInt
    service: Label
    error: str = Field(description="Why the record was dead-lettered then.")
