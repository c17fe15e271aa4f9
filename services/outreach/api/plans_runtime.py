"""What the /v1/plans routes need: the gateway to the processor, the read model, the
validation context and a clock."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from schemas.plans import PlanDraft
from services.outreach.domain.validation import BUILTIN_SEGMENTS, Problem, validate_draft
from services.outreach.gateway import PlanGateway
from services.outreach.read_model import PlanReadModel
from services.shared.clock import Clock


async def _builtins_only(_seller_id: str) -> frozenset[str]:
    return frozenset(BUILTIN_SEGMENTS)


@dataclass
class PlansRuntime:
    gateway: PlanGateway
    read_model: PlanReadModel
    clock: Clock
    retry_after_seconds: int = 2
    # The seller's live custom segment ids (read from the customers store by the API's
    # runtime); the built-in ones always exist.
    known_segments: Callable[[str], Awaitable[frozenset[str]]] = field(default=_builtins_only)

    async def validate(self, draft: PlanDraft, seller_id: str = "") -> list[Problem]:
        known = await self.known_segments(seller_id)
        return validate_draft(draft, now=self.clock(), known_segments=known)
