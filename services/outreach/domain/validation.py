"""TEMPORARY stub until the validation module lands."""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass
from datetime import datetime, timedelta

from schemas.plans import PlanDraft

BUILTIN_SEGMENTS = frozenset(
    {
        "new_customers",
        "repeat_customers",
        "high_value_customers",
        "lapsed_customers",
        "followers_not_purchased",
        "cart_abandoners",
        "engaged_visitors",
    }
)
MAX_SCHEDULE_AHEAD = timedelta(days=30)


@dataclass(frozen=True)
class Problem:
    field: str
    message: str


def validate_draft(draft: PlanDraft, *, now: datetime, known_segments: Set[str]) -> list[Problem]:
    return time_problems(draft, now)


def time_problems(draft: PlanDraft, now: datetime) -> list[Problem]:
    if draft.send_at is not None and not (now < draft.send_at <= now + MAX_SCHEDULE_AHEAD):
        return [Problem("send_at", "must be in the future")]
    return []
