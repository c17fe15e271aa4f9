"""Saving and deleting a custom segment: publish the fact to crm.segments (key seller_id),
then record it in the definitions at the acknowledged offset, so the caller's next request
already sees it. The customers worker applies the same records later; the offset keeps
that harmless (see definitions.py)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Protocol

from aiokafka.structs import RecordMetadata

from schemas.segments import SegmentCondition, SegmentDefined, SegmentDeleted
from services.customers.definitions import SegmentDefinition, SegmentEvent

SEGMENTS_TOPIC = "crm.segments"


class DefinitionBook(Protocol):
    """Where definitions are recorded (the customers store, services/customers/port.py)."""

    async def apply_segment_event(self, event: SegmentEvent, offset: int) -> bool: ...

    async def segment(self, seller_id: str, segment_id: str) -> SegmentDefinition | None: ...


Publish = Callable[[SegmentDefined | SegmentDeleted], Awaitable[RecordMetadata]]


async def define_segment(
    definitions: DefinitionBook,
    publish: Publish,
    *,
    seller_id: str,
    account_id: str,
    segment_id: str,
    name: str,
    conditions: list[SegmentCondition],
    now: datetime,
) -> SegmentDefinition:
    """Publish a validated definition and record it; answers the stored definition."""
    event = SegmentDefined(
        event_id=uuid.uuid4(),
        occurred_at=now,
        seller_id=seller_id,
        segment_id=segment_id,
        account_id=account_id,
        name=name,
        conditions=conditions,
    )
    written = await publish(event)
    await definitions.apply_segment_event(event, written.offset)
    stored = await definitions.segment(seller_id, segment_id)
    if stored is None:
        # Only a deletion at a later offset could hide it: the id was deleted meanwhile.
        raise LookupError(f"segment {segment_id} was deleted while it was being saved")
    return stored


async def delete_segment(
    definitions: DefinitionBook,
    publish: Publish,
    *,
    seller_id: str,
    account_id: str,
    segment_id: str,
    now: datetime,
) -> None:
    event = SegmentDeleted(
        event_id=uuid.uuid4(),
        occurred_at=now,
        seller_id=seller_id,
        segment_id=segment_id,
        account_id=account_id,
    )
    written = await publish(event)
    await definitions.apply_segment_event(event, written.offset)
