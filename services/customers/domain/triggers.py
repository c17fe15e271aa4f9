"""When an automated plan's trigger fires for one customer (SPEC section 5).

Each trigger has a due moment, computed from the relationship alone:

- cart_abandoned: the latest cart add + after_hours (default 24), if no order was placed
  in [cart add, due). A later cart add restarts the wait, since only the latest is kept.
- new_follower: the latest follow.
- post_purchase: an order + after_days (default 3); the earliest such moment in the
  timeframe.
- win_back: an order + after_days (default 60) if no other order came in between, i.e.
  the customer went after_days without ordering; the earliest such moment in the timeframe.

Timeframe rule: a trigger fires when its due moment lies in [starts_at, ends_at); the event
that armed it may predate starts_at. A cart add two hours before the plan starts fires 22
hours into it; an order 61 days before fires win_back one day in. This is one rule for all
four triggers (win_back's arming order nearly always predates the plan), and the delay
bounds how far back it reaches. The send itself must happen before ends_at too.

Delays are elapsed time (24 hours a day), not market-local calendar days: a DST change does
not move them. A decision depends on events up to the due moment, so a late look decides as
an on-time one would, with two exceptions: nothing fires at or after ends_at, and a due
moment hidden behind a later cart add or follow (only the latest of each is kept) is not
found. Orders keep every time within the retention horizon, so post_purchase and win_back
have no such gap. At most once per customer per plan: the caller keeps `already_fired`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache

from schemas.customer import CartAdded, OrderPlaced, ShopFollowed
from schemas.plans import Trigger
from services.customers.domain.relationship import Relationship, RelationshipEvent


# Cached: the firing engine asks for every customer it scans, and filling the defaults
# copies the model each time. A trigger is frozen and hashable; plans use a handful.
@lru_cache(maxsize=1024)
def delay(trigger: Trigger) -> timedelta:
    """How long the trigger waits after the event that arms it, defaults applied."""
    filled = trigger.with_defaults()
    if filled.after_hours is not None:
        return timedelta(hours=filled.after_hours)
    if filled.after_days is not None:
        return timedelta(days=filled.after_days)
    return timedelta(0)


def due_at(trigger: Trigger, rel: Relationship, event: RelationshipEvent) -> datetime | None:
    """When the trigger comes due for this customer because of `event`, or None if the event
    does not arm it. `rel` is the relationship with `event` already folded in.

    The answer is when to look again (`should_fire` with now = due) — the customer may have
    done something by then that cancels it.
    """
    at = event.occurred_at.astimezone(UTC)
    wait = delay(trigger)
    match trigger.type:
        case "cart_abandoned" if isinstance(event, CartAdded):
            return _latest(rel.last_cart_add_at, at) + wait
        case "new_follower" if isinstance(event, ShopFollowed):
            return _latest(rel.followed_at, at)
        case "post_purchase" if isinstance(event, OrderPlaced):
            return at + wait
        case "win_back" if isinstance(event, OrderPlaced):
            return _latest(rel.last_order_at, at) + wait
    return None


def should_fire(
    trigger: Trigger,
    rel: Relationship,
    now: datetime,
    starts_at: datetime,
    ends_at: datetime,
    already_fired: bool,
) -> bool:
    """Whether the plan messages this customer at `now`."""
    for instant in (now, starts_at, ends_at):
        if instant.tzinfo is None:
            raise ValueError("now, starts_at and ends_at must be timezone-aware")
    if already_fired or not now < ends_at:
        return False
    moment = firing_moment(trigger, rel, now, starts_at, ends_at)
    return moment is not None and moment <= now


def firing_moment(
    trigger: Trigger, rel: Relationship, now: datetime, starts_at: datetime, ends_at: datetime
) -> datetime | None:
    """The due moment, at or before `now` and inside [starts_at, ends_at), at which the
    trigger fired for this customer; None if there is none (yet)."""
    wait = delay(trigger)
    due: datetime | None = None
    match trigger.type:
        case "cart_abandoned":
            due = _cart_abandoned_due(rel, wait, now)
        case "new_follower":
            due = _new_follower_due(rel, now)
        case "post_purchase":
            return _earliest_order_due(rel, wait, now, (starts_at, ends_at), needs_quiet=False)
        case "win_back":
            return _earliest_order_due(rel, wait, now, (starts_at, ends_at), needs_quiet=True)
    if due is None or due > now or not starts_at <= due < ends_at:
        return None
    return due


def _cart_abandoned_due(rel: Relationship, wait: timedelta, now: datetime) -> datetime | None:
    cart_add = rel.last_cart_add_at
    if cart_add is None or cart_add > now:
        return None
    due = cart_add + wait
    # An order at the instant of the cart add counts; one at the due moment is too late.
    return None if rel.orders_between(cart_add, due) else due


def _new_follower_due(rel: Relationship, now: datetime) -> datetime | None:
    followed_at = rel.followed_at
    if followed_at is None or followed_at > now:
        return None
    # An unfollow at the same instant cancels the follow (relationship's tie rule).
    return None if rel.unfollowed_at == followed_at else followed_at


def _earliest_order_due(
    rel: Relationship,
    wait: timedelta,
    now: datetime,
    timeframe: tuple[datetime, datetime],
    needs_quiet: bool,
) -> datetime | None:
    # Every known order arms the trigger (archived orders are known by their latest time
    # only). With needs_quiet (win_back) an order re-arms it only if the next order came
    # at or after its due moment; judging each order this way, rather than only the latest,
    # lets a late look find the moment an on-time one would have.
    starts_at, ends_at = timeframe
    known = [rel.last_archived_order_at, *(order.placed_at for order in rel.orders)]
    times = sorted(at for at in known if at is not None)
    for index, placed_at in enumerate(times):
        due = placed_at + wait
        if due > now:
            return None
        interrupted = index + 1 < len(times) and times[index + 1] < due
        if needs_quiet and interrupted:
            continue
        if starts_at <= due < ends_at:
            return due
    return None


def _latest(current: datetime | None, at: datetime) -> datetime:
    return at if current is None else max(current, at)
