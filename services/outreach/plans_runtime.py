"""What the /v1/plans routes need: the gateway to the processor, the read model, the
validation context and a clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from schemas.plans import PlanDraft
from services.outreach.domain.validation import BUILTIN_SEGMENTS, Problem, validate_draft
from services.outreach.gateway import PlanGateway
from services.outreach.read_model import PlanReadModel


@dataclass
class PlansRuntime:
    gateway: PlanGateway
    read_model: PlanReadModel
    clock: Callable[[], datetime]
    retry_after_seconds: int = 2
    # Custom segments arrive with the customers service; the built-in ones always exist.
    known_segments: Callable[[str], frozenset[str]] = field(
        default=lambda _seller: frozenset(BUILTIN_SEGMENTS)
    )

    def validate(self, draft: PlanDraft, seller_id: str = "") -> list[Problem]:
        return validate_draft(
            draft, now=self.clock(), known_segments=self.known_segments(seller_id)
        )
