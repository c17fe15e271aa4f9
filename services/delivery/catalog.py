"""The automated plans delivery may be asked to send, by id, at their latest version:
a firing names its plan and version, and the content comes from here."""

from __future__ import annotations

import structlog

from schemas.plans import Plan, latest
from services.delivery.topic_follower import TopicFollower
from services.shared.codec import DecodeError, decode
from services.shared.consumer import Record
from services.shared.settings import Settings

log = structlog.get_logger(__name__)


class AutomatedPlans:
    def __init__(self, settings: Settings) -> None:
        self._follower = TopicFollower(settings, "crm.plan-events")
        self._plans: dict[str, Plan] = {}

    async def start(self) -> None:
        await self._follower.start()
        await self._follower.catch_up(self._fold)

    async def stop(self) -> None:
        await self._follower.stop()

    async def get(self, plan_id: str, version: int) -> Plan | None:
        """The plan at `version` or later; reads on when this is older (the firing
        engine wrote the firing after that version was committed)."""
        plan = self._plans.get(plan_id)
        if plan is None or plan.version < version:
            await self._follower.catch_up(self._fold)
            plan = self._plans.get(plan_id)
        return plan

    def _fold(self, record: Record) -> None:
        try:
            event = decode("crm.plan-events", record.value, max_bytes=1 << 20)
        except DecodeError as exc:
            log.error("plan_event_unreadable", offset=record.offset, error=exc.reason)
            return
        plan: Plan = event.plan  # type: ignore[attr-defined]
        if plan.type == "automated":
            self._plans[plan.plan_id] = latest(self._plans.get(plan.plan_id), plan)
