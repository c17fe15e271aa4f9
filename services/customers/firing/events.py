"""The one event the firing engine writes: AutomatedPlanFired on crm.plan-firings."""

from __future__ import annotations

import uuid
from datetime import datetime

from schemas.segments import AutomatedPlanFired
from services.customers.firing.plans import LivePlan

# The namespace of firing ids: one (plan, customer) pair has one id wherever it is seen.
_FIRING_NAMESPACE = uuid.UUID("5b0e1d2c-93a4-4f6e-8c1b-7a2f4d9e6c31")


def firing_id(plan_id: str, customer_id: str) -> uuid.UUID:
    return uuid.uuid5(_FIRING_NAMESPACE, f"{plan_id}/{customer_id}")


def plan_fired(
    plan: LivePlan, customer_id: str, due_at: datetime, now: datetime
) -> AutomatedPlanFired:
    return AutomatedPlanFired(
        event_id=firing_id(plan.plan_id, customer_id),
        occurred_at=now,
        seller_id=plan.seller_id,
        plan_id=plan.plan_id,
        plan_version=plan.version,
        customer_id=customer_id,
        trigger=plan.trigger,
        due_at=due_at,
    )
