"""Plan changes as the events on crm.plan-events."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import uuid4

from schemas.envelope import Event
from schemas.topics import topic
from services.outreach.domain.lifecycle import Change

# The registry already lists the lifecycle events: look them up rather than list them again.
_CLASSES: dict[str, Any] = {cls.__name__: cls for cls in topic("crm.plan-events").event_types}


def plan_event(change: Change, cause: Event | None, now: datetime) -> Event:
    """The event of a change; `cause` is the command behind it (None: the processor's own
    doing, a due dispatch or a suspension)."""
    cls = _CLASSES[change.event]
    event: Event = cls(
        event_id=uuid4(),
        occurred_at=now,
        seller_id=change.plan.seller_id,
        plan_id=change.plan.plan_id,
        correlation_id=getattr(cause, "correlation_id", None),
        plan=change.plan,
    )
    return event
