"""What the engine remembers per seller and per message, and how events change it.

Every function here is `evolve`-shaped: old state and an event in, new state out
(or None when the event changes nothing, so the adapter can skip the write).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict

from schemas.markets import local_date
from schemas.seller import Access, SellerMetricsReported, SellerStatusChanged
from services.eligibility.domain.calendar import effective_month_of
from services.eligibility.domain.criteria import DailyMetrics
from services.eligibility.domain.trusted import replaced, trusted
from services.shared.rejection import Rejected

# Reports older than this (before the newest one) can no longer feed a decision.
REPORT_RETENTION = timedelta(days=400)
# Closed appeal ids remembered to recognise a redelivered decision.
CLOSED_APPEALS_KEPT = 20

EngagementKind = Literal["delivered", "read", "blocked"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Standing(_Frozen):
    """Access and level at some point: what a transition starts from."""

    access: Access = "not_enrolled"
    last_active_level: int | None = None


class SellerState(_Frozen):
    seller_id: str
    market: str | None = None
    reports: dict[date, DailyMetrics] = {}
    # The standing before the latest month's first decision: re-ticks of that month
    # start from here, so a repeated tick reproduces the same decision.
    basis: Standing = Standing()
    # The decision the latest evaluation made, and the status in force (an approved
    # appeal can change the latter without the former).
    evaluated: SellerStatusChanged | None = None
    status: SellerStatusChanged | None = None
    last_active_level: int | None = None
    revision: int = 0
    open_appeal: str | None = None
    closed_appeals: tuple[str, ...] = ()

    @property
    def standing(self) -> Standing:
        access = self.status.access if self.status is not None else "not_enrolled"
        return trusted(Standing, access=access, last_active_level=self.last_active_level)


def record_metrics(state: SellerState, event: SellerMetricsReported) -> SellerState | None:
    if state.market is not None and state.market != event.market:
        raise Rejected(
            f"seller {event.seller_id} belongs to market {state.market}, not {event.market}"
        )
    report = trusted(  # from the validated event (domain/trusted.py)
        DailyMetrics,
        metrics_date=event.metrics_date,
        chats_received=event.chats_received,
        chats_responded_12h=event.chats_responded_12h,
        ses=event.ses,
        violation_points=event.violation_points,
        extra=dict(event.extra),
        reported_at=event.occurred_at,
        event_id=str(event.event_id),
    )
    current = state.reports.get(event.metrics_date)
    if current is not None and not report.supersedes(current):
        return None
    reports = {**state.reports, event.metrics_date: report}
    oldest = max(reports) - REPORT_RETENTION
    if min(reports) < oldest:
        reports = {d: r for d, r in reports.items() if d >= oldest}
    return replaced(state, market=event.market, reports=reports)


def reports_in(state: SellerState, start: date, end: date) -> list[DailyMetrics]:
    return [r for d, r in state.reports.items() if start <= d < end]


class MessageMarks(_Frozen):
    """Windows (effective months) in which one message was delivered, read, blocked.

    Reads and blocks are counted once per message per window, however often repeated.
    """

    delivered: tuple[str, ...] = ()
    read: tuple[str, ...] = ()
    blocked: tuple[str, ...] = ()


def mark(marks: MessageMarks, kind: EngagementKind, window: str) -> MessageMarks | None:
    seen: tuple[str, ...] = getattr(marks, kind)
    if window in seen:
        return None
    return marks.model_copy(update={kind: (*seen, window)})


def engagement_window(at: datetime, market: str) -> str:
    return effective_month_of(local_date(at, market))


class Tally(_Frozen):
    delivered: int = 0
    read: int = 0
    blocked: int = 0


class EngagementTally(_Frozen):
    """Per window (effective month): distinct messages delivered, read, blocked."""

    windows: dict[str, Tally] = {}

    def count(self, kind: EngagementKind, window: str) -> EngagementTally:
        tally = self.windows.get(window, Tally())
        bumped = tally.model_copy(update={kind: getattr(tally, kind) + 1})
        return self.model_copy(update={"windows": {**self.windows, window: bumped}})
