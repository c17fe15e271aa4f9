"""Monthly evaluation and appeals: SPEC section 3's transitions, section 4's level."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from schemas.seller import (
    AppealDecided,
    AppealSubmitted,
    Criterion,
    Performance,
    SellerStatusChanged,
)
from services.eligibility.domain.calendar import window, window_closes_at
from services.eligibility.domain.criteria import evaluate_criteria
from services.eligibility.domain.level import level_for, performance
from services.eligibility.domain.state import (
    CLOSED_APPEALS_KEPT,
    EngagementTally,
    SellerState,
    Standing,
    reports_in,
)
from services.eligibility.domain.trusted import trusted
from services.policy.domain import Policy
from services.shared.rejection import Rejected

_STATUS_NAMESPACE = uuid.UUID("0b6f9a52-2f43-5d0e-9c1e-3a7f6c2d8e41")


def tick_refusal(market: str, effective_month: str, occurred_at: datetime) -> str | None:
    """Why a tick must be refused, or None. Judged by the tick's own time, not the
    worker's clock, so a replay refuses (and accepts) exactly the same ticks."""
    closes = window_closes_at(effective_month, market)
    if occurred_at < closes:
        return (
            f"the window of {market} {effective_month} closes at {closes.isoformat()}; "
            f"tick emitted at {occurred_at.isoformat()}"
        )
    return None


@dataclass(frozen=True)
class Outcome:
    """A new state, and the status to publish (None: nothing changed that a reader sees)."""

    state: SellerState
    status: SellerStatusChanged | None


def _status_id(seller_id: str, revision: int) -> uuid.UUID:
    # Deterministic: a status re-emitted after a crash (same state, same revision)
    # keeps its event_id, so readers de-duplicate it.
    return uuid.uuid5(_STATUS_NAMESPACE, f"{seller_id}/{revision}")


def _transition(
    basis: Standing, eligible: bool, perf: Performance | None, policy: Policy
) -> tuple[str, int | None]:
    if not eligible:
        return ("suspended" if basis.access == "active" else "not_enrolled"), None
    if basis.access != "active":
        return "active", policy.level.new_seller_level
    measured = perf if perf is not None else performance(0, 0, 0)
    return "active", level_for(policy.level, measured, basis.last_active_level)


def _same_decision(a: SellerStatusChanged, b: SellerStatusChanged) -> bool:
    ignored = {"event_id", "occurred_at", "decided_at", "reason"}
    return a.model_dump(exclude=ignored) == b.model_dump(exclude=ignored)


_Judged = tuple[bool, Standing, list[Criterion], bool, Performance | None, tuple[str, int | None]]


def _judge(
    state: SellerState, effective_month: str, tally: EngagementTally | None, policy: Policy
) -> _Judged | None:
    """(revising, basis, criteria, eligible, performance, (access, level)), or None when
    no decision is made (market unknown, or a month before the latest decision)."""
    if state.market is None:
        return None
    latest = state.evaluated.effective_month if state.evaluated is not None else None
    if latest is not None and effective_month < latest:
        return None  # decisions only move forward
    revising = latest == effective_month
    basis = state.basis if revising else state.standing
    start, end = window(effective_month)
    criteria: list[Criterion] = evaluate_criteria(policy.eligibility, reports_in(state, start, end))
    eligible = all(c.passed for c in criteria)
    counts = tally.windows.get(effective_month) if tally is not None else None
    perf = performance(counts.delivered, counts.read, counts.blocked) if counts else None
    return revising, basis, criteria, eligible, perf, _transition(basis, eligible, perf, policy)


def standing_after(
    state: SellerState, effective_month: str, tally: EngagementTally | None, policy: Policy
) -> tuple[str, int | None]:
    """Access and level the seller would hold after this month's evaluation, without
    building the status (a what-if decides every seller twice). A re-decision that
    keeps the decision's access and level publishes nothing, so the status in force
    (an approved appeal's, say) stays."""
    judged = _judge(state, effective_month, tally, policy)
    current = state.status
    held = (current.access, current.level) if current is not None else ("not_enrolled", None)
    if judged is None:
        return held
    revising, *_, decided = judged
    previous = state.evaluated
    if revising and previous is not None and decided == (previous.access, previous.level):
        return held
    return decided


def evaluate(
    state: SellerState,
    effective_month: str,
    tally: EngagementTally | None,
    policy: Policy,
    decided_at: datetime,
) -> Outcome:
    """Decide one seller for a month. Callers pass only sellers of the tick's market."""
    judged = _judge(state, effective_month, tally, policy)
    if judged is None:
        return Outcome(state, None)
    revising, basis, criteria, eligible, perf, (access, level) = judged
    start, end = window(effective_month)
    revision = state.revision + 1
    # From validated state, a validated policy and the calendar (domain/trusted.py).
    decision = trusted(
        SellerStatusChanged,
        event_id=_status_id(state.seller_id, revision),
        occurred_at=decided_at,
        seller_id=state.seller_id,
        market=state.market,  # validated as a Market on the way in
        effective_month=effective_month,
        access=access,
        eligible=eligible,
        level=level,
        weekly_quota=policy.weekly_quota(level) if level is not None else 0,
        criteria=criteria,
        performance=perf,
        window_start=start,
        window_end=end,
        policy_version=policy.version,
        reason="revised_evaluation" if revising else "monthly_evaluation",
        decided_at=decided_at,
    )
    if revising and state.evaluated is not None and _same_decision(decision, state.evaluated):
        return Outcome(state, None)
    new_state = state.model_copy(
        update={
            "basis": basis,
            "evaluated": decision,
            "status": decision,
            "revision": revision,
            "last_active_level": level if level is not None else basis.last_active_level,
        }
    )
    return Outcome(new_state, decision)


def submit_appeal(state: SellerState, event: AppealSubmitted) -> SellerState | None:
    if state.open_appeal == event.appeal_id or event.appeal_id in state.closed_appeals:
        return None  # redelivered
    if state.status is None or state.status.access != "suspended":
        access = state.status.access if state.status is not None else "not_enrolled"
        raise Rejected(f"only a suspended seller may appeal; {event.seller_id} is {access}")
    if state.open_appeal is not None:
        raise Rejected(f"appeal {state.open_appeal} is still open; one open appeal at a time")
    return state.model_copy(update={"open_appeal": event.appeal_id})


def decide_appeal(
    state: SellerState, event: AppealDecided, policy: Policy, decided_at: datetime
) -> Outcome:
    if event.appeal_id in state.closed_appeals:
        return Outcome(state, None)  # redelivered
    if state.open_appeal != event.appeal_id:
        raise Rejected(f"appeal {event.appeal_id} is not open for seller {event.seller_id}")
    closed = (*state.closed_appeals, event.appeal_id)[-CLOSED_APPEALS_KEPT:]
    closed_state = state.model_copy(update={"open_appeal": None, "closed_appeals": closed})
    if not event.approved or state.status is None:
        return Outcome(closed_state, None)
    level = state.last_active_level or policy.level.new_seller_level
    revision = state.revision + 1
    reinstated = state.status.model_copy(
        update={
            "event_id": _status_id(state.seller_id, revision),
            "occurred_at": decided_at,
            "access": "active",
            "level": level,
            "weekly_quota": policy.weekly_quota(level),
            "reason": "appeal_approved",
            "decided_at": decided_at,
            "policy_version": policy.version,
        }
    )
    new_state = closed_state.model_copy(
        update={"status": reinstated, "revision": revision, "last_active_level": level}
    )
    return Outcome(new_state, reinstated)
