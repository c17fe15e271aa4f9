"""Plan changes as the events on crm.plan-events."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import uuid4

from schemas.envelope import Event
from schemas.plans import (
    PlanCancelled,
    PlanCompleted,
    PlanCreated,
    PlanDeleted,
    PlanDispatched,
    PlanEdited,
    PlanEnded,
    PlanRejected,
    PlanScheduled,
    PlanStarted,
)
from services.outreach.domain.lifecycle import Change, EventName

_CLASSES: dict[EventName, Any] = {
    "PlanCreated": PlanCreated,
    "PlanEdited": PlanEdited,
    "PlanDeleted": PlanDeleted,
    "PlanScheduled": PlanScheduled,
    "PlanDispatched": PlanDispatched,
    "PlanStarted": PlanStarted,
    "PlanEnded": PlanEnded,
    "PlanCompleted": PlanCompleted,
    "PlanCancelled": PlanCancelled,
    "PlanRejected": PlanRejected,
}


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
