"""Who of a plan's recipients is not sent to, and why (SPEC section 5, Delivery).

The frequency cap is asked last and only for customers nothing else suppresses: asking
it records the message against the customer's cap, which only a sent message may do.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict

from schemas.delivery import SuppressionReason

Outcome = Literal["sent"] | SuppressionReason


def before_cap(
    *, seller_active: bool, blocked: bool, already_messaged: bool
) -> SuppressionReason | None:
    """The reason a recipient is suppressed before the cap is asked, or None."""
    if not seller_active:
        return "seller_inactive"
    if blocked:
        return "blocked"
    if already_messaged:
        return "already_messaged"
    return None


class Tally(BaseModel):
    """A plan's handled recipients so far: sent plus suppressed by reason."""

    model_config = ConfigDict(frozen=True)

    recipients: int = 0
    sent: int = 0
    suppressed: Mapping[SuppressionReason, int] = {}

    def add(self, outcomes: Iterable[Outcome]) -> Tally:
        sent = self.sent
        recipients = self.recipients
        suppressed = dict(self.suppressed)
        for outcome in outcomes:
            recipients += 1
            if outcome == "sent":
                sent += 1
            else:
                suppressed[outcome] = suppressed.get(outcome, 0) + 1
        return Tally(recipients=recipients, sent=sent, suppressed=suppressed)
