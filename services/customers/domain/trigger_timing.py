"""When to look at one (automated plan, customer) pair next: the schedule the firing
engine keeps is built from these answers, and `should_fire` (triggers.py) decides at
each look.

A trigger can only come due at a moment its relationship's anchors produce: the latest
cart add + after_hours, the latest follow, an order + after_days. `next_look` answers
the earliest such moment still worth a look, so an engine that looks only then finds
every firing an engine looking all the time would find; a change to the relationship
(a new cart add, an order) comes with the event that made it, which asks again.

A plan is live from the later of `starts_at` and the moment it was started: a plan
submitted with a `starts_at` in the past would otherwise message at once every customer
whose trigger came due since then (every lapsed customer, for win_back) — a retroactive
blast no seller asked for by backdating a start.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.plans import Trigger
from services.customers.domain.relationship import Relationship
from services.customers.domain.triggers import delay, firing_moment


def live_window(
    starts_at: datetime, ends_at: datetime, started_at: datetime | None
) -> tuple[datetime, datetime]:
    """The [start, end) in which a plan's trigger may come due: its timeframe, from no
    earlier than the moment it was started (`started_at`, None: not known)."""
    start = starts_at if started_at is None else max(starts_at, started_at)
    return start.astimezone(UTC), ends_at.astimezone(UTC)


def candidates(trigger: Trigger, rel: Relationship) -> list[datetime]:
    """Every moment at which the trigger may come due for this relationship, ascending.
    Whether it does is `should_fire`'s to say at that moment."""
    wait = delay(trigger)
    anchors: list[datetime | None]
    match trigger.type:
        case "cart_abandoned":
            anchors = [rel.last_cart_add_at]
        case "new_follower":
            anchors = [rel.followed_at]
        case "post_purchase":
            anchors = [*_order_times(rel)]
        case "win_back":
            # An order followed by another within the wait never comes due.
            times = _order_times(rel)
            following: list[datetime | None] = [*times[1:], None][: len(times)]
            anchors = [
                at for at, then in zip(times, following, strict=True) if _quiet(at, then, wait)
            ]
    return sorted({at + wait for at in anchors if at is not None})


def _order_times(rel: Relationship) -> list[datetime]:
    known = [rel.last_archived_order_at, *(order.placed_at for order in rel.orders)]
    return sorted(at for at in known if at is not None)


def _quiet(order_at: datetime, next_order_at: datetime | None, wait: timedelta) -> bool:
    return next_order_at is None or next_order_at >= order_at + wait


def next_look(
    trigger: Trigger, rel: Relationship, now: datetime, window: tuple[datetime, datetime]
) -> datetime | None:
    """When to ask `should_fire` about this pair: the due moment (at or before `now`) if
    the trigger has fired already, else the earliest later candidate inside the window;
    None when nothing this relationship holds can fire the plan."""
    start, end = window
    if not now < end:
        return None
    fired_at = firing_moment(trigger, rel, now, start, end)
    if fired_at is not None:
        return fired_at
    later = (at for at in candidates(trigger, rel) if at > now and start <= at < end)
    return next(later, None)
