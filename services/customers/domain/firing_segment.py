"""Whether a customer is in an automated plan's segment at its firing instant (SPEC
section 5: "a customer fires only if, at the firing moment, they satisfy the plan's
segment (its rule or conditions judged on their current relationship)").

The daily memberships cannot answer this: they are as of today's 00:00, so they miss a
customer who followed five minutes ago. The same rules are judged instead on the
relationship as it stands, at the firing instant:

- The firing instant is the trigger's due moment (`AutomatedPlanFired.due_at`), not the
  moment the engine happened to look: a late look (an engine restarted after an outage)
  decides as an on-time one would, and a replay decides the same.
- Facts at or before the instant count (`instant_cutoff`): a follow at the very instant a
  new_follower plan comes due makes the customer a follower.
- "In the last N days" runs from D−N 00:00 market-local, D being the instant's
  market-local date, up to the instant: the N whole local days before today, plus today
  so far — the daily rule's window, with today's hours added. "Days since X" counts whole
  local days from the date of X to D (0 for today), as the daily rule does.
- Profile attributes are the customer's current profile (profiles keep no history).
- high_value_customers ranks a whole shop, which one customer's firing cannot redo: a
  customer belongs when their spend in the window is above the threshold of the latest
  daily recompute (the spend of the first customer left out; 0.0 when every spender had a
  place). Before a seller's first recompute there is no threshold, and nobody belongs.
- A custom segment that no longer exists (deleted) has no members: nobody fires.
"""

from __future__ import annotations

from collections.abc import Sequence

from schemas.envelope import StrictModel
from services.customers.domain.conditions import Condition, matches_at
from services.customers.domain.cutoff import Cutoff
from services.customers.domain.profile import Profile
from services.customers.domain.relationship import Relationship
from services.customers.domain.segments import (
    BUILTIN_SEGMENT_IDS,
    RELATIONSHIP_RULES,
    high_value_spend,
)


class FiringSegment(StrictModel):
    """A plan's segment as a firing judges it."""

    segment_id: str
    conditions: tuple[Condition, ...] = ()
    """A custom segment's conditions; empty for a built-in or a deleted custom segment."""
    high_value_threshold: float | None = None
    """high_value_customers: the latest daily threshold (None: not computed yet)."""

    @property
    def builtin(self) -> bool:
        return self.segment_id in BUILTIN_SEGMENT_IDS

    @classmethod
    def custom(cls, segment_id: str, conditions: Sequence[Condition] | None) -> FiringSegment:
        """A custom segment; `conditions` None when it is unknown or deleted."""
        return cls(segment_id=segment_id, conditions=tuple(conditions or ()))


def in_segment_at(
    segment: FiringSegment, rel: Relationship, profile: Profile | None, cut: Cutoff
) -> bool:
    """Whether the customer belongs to the segment at the cut-off (`instant_cutoff` of the
    firing instant)."""
    if segment.segment_id == "high_value_customers":
        threshold = segment.high_value_threshold
        if threshold is None:
            return False
        spend = high_value_spend(rel, cut)
        return spend > 0 and spend > threshold
    if segment.builtin:
        return RELATIONSHIP_RULES[segment.segment_id](rel, cut)  # type: ignore[index]
    if not segment.conditions:
        return False  # unknown or deleted: no members
    return matches_at(segment.conditions, rel, profile, cut)
