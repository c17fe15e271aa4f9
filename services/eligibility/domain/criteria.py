"""Eligibility criteria over a window of daily metrics (SPEC section 3)."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict

from schemas.seller import Criterion
from services.eligibility.domain.trusted import trusted
from services.policy.domain import EligibilityRules

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


class DailyMetrics(BaseModel):
    """One (seller, metrics_date) report as it stands after corrections."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    metrics_date: date
    chats_received: int
    chats_responded_12h: int
    ses: float | None
    violation_points: int
    extra: dict[str, float] = {}
    # Which report won: the latest occurred_at, ties broken by event_id, so that
    # shuffled and redelivered reports settle on the same value in any order.
    reported_at: datetime
    event_id: str

    def supersedes(self, other: DailyMetrics) -> bool:
        return (self.reported_at, self.event_id) > (other.reported_at, other.event_id)


def _built(
    name: str, value: float | None, op: str, threshold: float, passed: bool, note: str | None
) -> Criterion:
    # From validated reports and a validated policy (domain/trusted.py), with the float
    # coercion validation would apply (a threshold of 12 is 12.0).
    return trusted(
        Criterion,
        name=name,
        value=None if value is None else float(value),
        op=op,
        threshold=float(threshold),
        passed=passed,
        note=note,
    )


def _criterion(
    name: str, value: float | None, op: str, threshold: float, note: str | None = None
) -> Criterion:
    passed = value is not None and _OPS[op](value, threshold)
    return _built(name, value, op, threshold, passed, note)


def _no_data(name: str, op: str, threshold: float) -> Criterion:
    return _built(name, None, op, threshold, False, "no_data")


def evaluate_criteria(rules: EligibilityRules, reports: Iterable[DailyMetrics]) -> list[Criterion]:
    """Every criterion, explained. `reports` are the window's days (any order)."""
    days = sorted(reports, key=lambda r: r.metrics_date)
    if not days:
        return [
            _no_data("response_rate_12h", ">=", rules.response_rate_min),
            _no_data("ses", ">=", rules.ses_min),
            _no_data("violation_points", "<", rules.violation_points_below),
            *(_no_data(rule.name, rule.op, rule.threshold) for rule in rules.extra),
        ]
    received = sum(d.chats_received for d in days)
    responded = sum(d.chats_responded_12h for d in days)
    if received == 0:
        response = _built(
            "response_rate_12h", None, ">=", rules.response_rate_min, True, "no_chats"
        )
    else:
        response = _criterion(
            "response_rate_12h", responded / received, ">=", rules.response_rate_min
        )
    with_ses = [d for d in days if d.ses is not None]
    ses = (
        _criterion("ses", with_ses[-1].ses, ">=", rules.ses_min)
        if with_ses
        else _no_data("ses", ">=", rules.ses_min)
    )
    violations = _criterion(
        "violation_points", float(days[-1].violation_points), "<", rules.violation_points_below
    )
    extras = []
    for rule in rules.extra:
        reported = [d.extra[rule.name] for d in days if rule.name in d.extra]
        extras.append(
            _criterion(rule.name, reported[-1], rule.op, rule.threshold)
            if reported
            else _no_data(rule.name, rule.op, rule.threshold)
        )
    return [response, ses, violations, *extras]
