"""What outreach and delivery call: reserve, release and dispatch a plan's unit of weekly
quota (one-time plans) or of its campaign's per-seller limit (campaign plans, given
their `CampaignLimit`), read a counter's usage and a seller's status, and ask the
frequency cap.

Two implementations follow the same rules (services/quota/domain): RedisQuota in
adapter.py, and InMemoryQuota in fake.py for the unit tests of the services that call it.
Other services import all of it from port.py, quota's one public module.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import chain
from operator import itemgetter
from typing import Generic, Protocol, TypeVar

from pydantic import TypeAdapter, ValidationError

from schemas.outbound import PlanType
from schemas.seller import SellerStatusChanged
from schemas.types import IDENTIFIER_MAX_LENGTH, Identifier
from services.quota.domain.counters import CampaignLimit as CampaignLimit
from services.quota.domain.frequency_cap import CapDecision
from services.quota.domain.reservations import (
    DispatchOutcome,
    ReleaseOutcome,
    ReserveOutcome,
    quota_left,
)

OutcomeT = TypeVar("OutcomeT", bound=str)


@dataclass(frozen=True, kw_only=True)
class WeekCount:
    """A seller's limit and units used in one counter: `week` is its label, the ISO week
    'YYYY-Www' or 'campaign:<id>' (None: the seller has no status)."""

    week: str | None
    limit: int
    used: int

    @property
    def left(self) -> int:
        return quota_left(self.limit, self.used)


@dataclass(frozen=True, kw_only=True)
class QuotaAnswer(WeekCount, Generic[OutcomeT]):
    """What happened to a plan's unit, and the week's count afterwards."""

    outcome: OutcomeT


Reservation = QuotaAnswer[ReserveOutcome]
Release = QuotaAnswer[ReleaseOutcome]
Dispatch = QuotaAnswer[DispatchOutcome]


_IDENTIFIER: TypeAdapter[str] = TypeAdapter(Identifier)


def check_ids(**ids: str) -> None:
    """Refuse an id the ledger's schema would refuse, before anything is taken: a unit
    whose fact cannot be written to the ledger would stay pending for good."""
    for name, value in ids.items():
        try:
            _IDENTIFIER.validate_python(value)
        except ValidationError as exc:
            raise ValueError(f"{name}: {exc.errors()[0]['msg']}") from None


_WHITESPACE = re.compile(r"\s")


def check_message_ids(messages: Iterable[tuple[str, str]]) -> None:
    """check_ids for each (customer_id, message_id), all before anything is decided, at
    a fraction of its cost for ids that pass (a fan-out checks millions): the page's
    lengths, first and last characters are looked at in C-level passes, and only a page
    that may hold a bad id is checked id by id."""
    pairs = messages if isinstance(messages, list) else list(messages)
    ids = list(chain.from_iterable(pairs))
    try:
        suspect = bool(ids) and (
            max(map(len, ids)) > IDENTIFIER_MAX_LENGTH
            or _WHITESPACE.search("".join(map(itemgetter(0), ids))) is not None
            or _WHITESPACE.search("".join(map(itemgetter(-1), ids))) is not None
        )
    except (TypeError, IndexError):  # not text, or an empty id
        suspect = True
    if not suspect:
        return
    for customer_id, message_id in pairs:
        if not (_is_identifier(customer_id) and _is_identifier(message_id)):
            check_ids(customer_id=customer_id, message_id=message_id)


def _is_identifier(value: str) -> bool:
    # Identifier's rule (1-128 characters, trimmed) without pydantic; a unit test
    # holds the two to the same answers.
    return (
        type(value) is str
        and 0 < len(value) <= IDENTIFIER_MAX_LENGTH
        and not value[0].isspace()
        and not value[-1].isspace()
    )


def without_week(outcome: OutcomeT) -> QuotaAnswer[OutcomeT]:
    """The answer when no week is involved: a plan type that does not count, a seller
    without a status (quota 0)."""
    return QuotaAnswer(outcome=outcome, week=None, limit=0, used=0)


class QuotaPort(Protocol):
    async def reserve(
        self,
        seller_id: str,
        plan_id: str,
        plan_type: PlanType,
        send_at: datetime,
        campaign: CampaignLimit | None = None,
    ) -> Reservation:
        """Take a unit of the week holding `send_at`, or of `campaign` for a campaign
        plan (idempotent per plan)."""
        ...

    async def release(
        self,
        seller_id: str,
        plan_id: str,
        plan_type: PlanType,
        send_at: datetime,
        campaign: CampaignLimit | None = None,
    ) -> Release:
        """Give the unit back; refused once the plan is dispatched (idempotent)."""
        ...

    async def mark_dispatched(
        self,
        seller_id: str,
        plan_id: str,
        plan_type: PlanType,
        send_at: datetime,
        campaign: CampaignLimit | None = None,
    ) -> Dispatch:
        """Dispatch started: the unit can no longer be released."""
        ...

    async def usage(
        self, seller_id: str, at: datetime, campaign: CampaignLimit | None = None
    ) -> WeekCount:
        """Limit, used and left in the week holding `at` (or in `campaign`'s counter)."""
        ...

    async def seller_status(self, seller_id: str) -> SellerStatusChanged | None:
        """The seller's latest status, or None before its first one."""
        ...

    async def may_send(
        self, seller_id: str, customer_id: str, message_id: str, at: datetime
    ) -> CapDecision:
        """May this message go to this customer at `at`? Decided once per message_id."""
        ...

    async def may_send_many(
        self, seller_id: str, messages: Sequence[tuple[str, str]], at: datetime
    ) -> list[CapDecision]:
        """`may_send` for many (customer_id, message_id) pairs of one seller, in order:
        the answers equal asking one at a time (delivery asks a page of recipients).
        An invalid id raises ValueError before any message is decided."""
        ...
