"""The performance figures of plans, segments and days, as pure rules (SPEC section 5).

Every engagement event, attributed order and attributed coupon claim becomes one `Tally`:
figures to add to its plan (and, for the overview's figures, to the plan's share of a
market-local day), guarded by a mark that makes it count once:

- a message is delivered, read, clicked or failed once: the mark is one bit per message
  (the customer within the plan, since a message id is derived from plan and customer),
  so a message read twice counts as read once;
- an order counts once per order_id, a coupon claim once per event_id.

`fold` is the reference the Redis script follows; the readers' sums are here too.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.customer import CouponClaimed, OrderPlaced
from schemas.delivery import SUPPRESSION_REASONS, DeliveryProgressed
from schemas.engagement import MessageClicked, MessageDelivered, MessageFailed, MessageRead
from services.delivery.domain.attribution import local_day

EngagementEvent = MessageDelivered | MessageRead | MessageClicked | MessageFailed
Figure = Literal["delivered", "read", "clicked", "failed", "orders", "gmv", "coupons_claimed"]
# The figures kept per plan and market-local day, added up: the overview shows the first
# five; a segment's daily snapshot all of them.
DAILY_FIGURES: frozenset[str] = frozenset(
    {"delivered", "read", "clicked", "failed", "orders", "gmv", "coupons_claimed"}
)
OVERVIEW_FIGURES: frozenset[str] = frozenset({"delivered", "read", "clicked", "orders", "gmv"})
# A plan's cumulative fan-out counts (DeliveryProgressed), set — not added — in the bucket
# of the day of the record: the latest day up to D holds the plan's counts as of D.
PROGRESS_FIGURES: tuple[str, ...] = (
    "recipients",
    "sent",
    *(f"suppressed:{reason}" for reason in SUPPRESSION_REASONS),
)
# One bit per engagement kind in a message's mark.
MESSAGE_BITS: dict[str, int] = {"delivered": 1, "read": 2, "clicked": 4, "failed": 8}
DAY_FIELD_SEPARATOR = "|"


@dataclass(frozen=True)
class MessageMark:
    """Counted once per (plan, customer, kind)."""

    customer_id: str
    bit: int


@dataclass(frozen=True)
class OnceMark:
    """Counted once per token (an order id, a claim's event id) within the plan."""

    token: str


@dataclass(frozen=True)
class Tally:
    seller_id: str
    plan_id: str
    mark: MessageMark | OnceMark
    figures: tuple[tuple[Figure, float], ...]
    day: date | None
    """The market-local day whose figures also grow (the overview's and the segments'
    daily snapshots)."""


def engagement_tally(event: EngagementEvent, market: str | None) -> Tally:
    match event:
        case MessageDelivered():
            kind: Figure = "delivered"
            day: date | None = local_day(event.delivered_at, market)
        case MessageRead():
            kind, day = "read", local_day(event.read_at, market)
        case MessageClicked():
            kind, day = "clicked", local_day(event.clicked_at, market)
        case MessageFailed():
            kind, day = "failed", local_day(event.occurred_at, market)
    return Tally(
        event.seller_id,
        event.plan_id,
        MessageMark(event.customer_id, MESSAGE_BITS[kind]),
        ((kind, 1),),
        day,
    )


def finite(amount: float) -> float:
    """A sum held at the largest float instead of overflowing to inf (which JSON writes
    as null, for good). Orders are at most 1e12 each (schemas.types.MONEY_MAX), so only
    a corrupted store can get here."""
    if math.isfinite(amount):
        return amount
    return -sys.float_info.max if amount < 0 else sys.float_info.max


def order_tally(order: OrderPlaced, plan_id: str, market: str | None) -> Tally:
    return Tally(
        order.seller_id,
        plan_id,
        OnceMark(f"order:{order.order_id}"),
        (("orders", 1), ("gmv", order.gmv)),
        local_day(order.occurred_at, market),
    )


def claim_tally(claim: CouponClaimed, plan_id: str, market: str | None) -> Tally:
    return Tally(
        claim.seller_id,
        plan_id,
        OnceMark(f"claim:{claim.event_id}"),
        (("coupons_claimed", 1),),
        local_day(claim.occurred_at, market),
    )


def daily_figures(tally: Tally) -> tuple[tuple[Figure, float], ...]:
    if tally.day is None:
        return ()
    return tuple((name, amount) for name, amount in tally.figures if name in DAILY_FIGURES)


# --- delivery progress ---------------------------------------------------------------


@dataclass(frozen=True)
class ProgressMark:
    """What orders a plan's DeliveryProgressed records: the count, then the record offset
    (a plan's records share one partition of the compacted topic)."""

    recipients: int
    offset: int


def supersedes(incoming: ProgressMark, stored: ProgressMark | None) -> bool:
    """The record with more recipients is the later state of a cumulative count; on a tie
    the later record (its `done` may be set). Re-reading an older record changes nothing."""
    if stored is None:
        return True
    return (incoming.recipients, incoming.offset) >= (stored.recipients, stored.offset)


def progress_fields(event: DeliveryProgressed, offset: int) -> dict[str, str]:
    """The plan figures a DeliveryProgressed sets (every reason, so a replacement is whole)."""
    fields = {
        "recipients": str(event.recipients),
        "sent": str(event.sent),
        "progress_offset": str(offset),
        "segment_id": event.segment_id,
        "plan_type": event.plan_type,
        "done": "1" if event.done else "0",
    }
    for reason in SUPPRESSION_REASONS:
        fields[f"suppressed:{reason}"] = str(event.suppressed.get(reason, 0))
    return fields


def shard_prefix(event: DeliveryProgressed) -> str:
    """Where a record's figures go in the plan's hash: the plan's own fields for a whole
    fan-out, "shard<i>:"-prefixed ones for shard i of a sharded one."""
    return "" if event.shard_count == 1 else f"shard{event.shard}:"


def shard_fields(event: DeliveryProgressed, offset: int) -> dict[str, str]:
    """The fields a sharded plan's record sets: its shard's figures and mark."""
    prefix = shard_prefix(event)
    return {
        f"{prefix}{name}": value
        for name, value in progress_fields(event, offset).items()
        if name not in ("segment_id", "plan_type")
    }


def sharded_totals(fields: Mapping[str, str], shard_count: int) -> dict[str, str]:
    """A sharded plan's figures: the sum over its shards of each one's latest record
    (`fields`: the plan's hash with the shard fields), done once every shard is."""
    totals = dict.fromkeys(PROGRESS_FIGURES, 0)
    done = True
    for n in range(shard_count):
        prefix = f"shard{n}:"
        done = done and fields.get(f"{prefix}done") == "1"
        for name in PROGRESS_FIGURES:
            totals[name] += int(fields.get(f"{prefix}{name}", 0))
    return {**{k: str(v) for k, v in totals.items()}, "done": "1" if done else "0"}


def totals_day_fields(plan_id: str, totals: Mapping[str, str]) -> dict[str, str]:
    return {day_field(plan_id, name): totals[name] for name in PROGRESS_FIGURES}


def progress_day_fields(event: DeliveryProgressed) -> dict[str, str]:
    """The day-bucket fields a DeliveryProgressed sets: the plan's cumulative counts."""
    counts = {
        "recipients": event.recipients,
        "sent": event.sent,
        **{f"suppressed:{r}": event.suppressed.get(r, 0) for r in SUPPRESSION_REASONS},
    }
    return {day_field(event.plan_id, name): str(value) for name, value in counts.items()}


# --- what readers show ---------------------------------------------------------------


class PlanFigures(BaseModel):
    model_config = ConfigDict(frozen=True)

    recipients: int = 0
    suppressed: dict[str, int] = Field(default_factory=dict)
    sent: int = 0
    delivered: int = 0
    read: int = 0
    clicked: int = 0
    failed: int = 0
    orders: int = 0
    gmv: float = 0.0
    coupons_claimed: int = 0


_COUNTS = ("recipients", "sent", "delivered", "read", "clicked", "failed", "orders")


def figures_from_stored(stored: Mapping[str, str]) -> PlanFigures:
    """A plan's figures from its stored hash (absent fields are 0)."""
    suppressed = {
        name.removeprefix("suppressed:"): int(value)
        for name, value in stored.items()
        if name.startswith("suppressed:") and int(value) > 0
    }
    return PlanFigures(
        **{name: int(stored.get(name, 0)) for name in _COUNTS},
        coupons_claimed=int(stored.get("coupons_claimed", 0)),
        gmv=round(finite(float(stored.get("gmv", 0.0))), 2),
        suppressed=suppressed,
    )


def total(figures: Iterable[PlanFigures]) -> PlanFigures:
    """The figures of several plans summed (a segment's)."""
    sums: dict[str, float] = {}
    suppressed: dict[str, int] = {}
    for one in figures:
        for name, value in one.model_dump(exclude={"suppressed"}).items():
            sums[name] = sums.get(name, 0) + value
        for reason, count in one.suppressed.items():
            suppressed[reason] = suppressed.get(reason, 0) + count
    counts = {name: int(sums.get(name, 0)) for name in (*_COUNTS, "coupons_claimed")}
    return PlanFigures(**counts, gmv=round(finite(sums.get("gmv", 0.0)), 2), suppressed=suppressed)


class Funnel(BaseModel):
    model_config = ConfigDict(frozen=True)

    delivered: int = 0
    read: int = 0
    clicked: int = 0
    ordered: int = 0


class SegmentDay(BaseModel):
    model_config = ConfigDict(frozen=True)

    segment_id: str
    delivered: int = 0
    read: int = 0
    clicked: int = 0
    orders: int = 0
    gmv: float = 0.0


class OverviewFigures(BaseModel):
    model_config = ConfigDict(frozen=True)

    funnel: Funnel
    segments: list[SegmentDay]


def day_field(plan_id: str, figure: str) -> str:
    return f"{plan_id}{DAY_FIELD_SEPARATOR}{figure}"


def overview_of(
    days: Iterable[Mapping[str, str]], segment_of: Mapping[str, str]
) -> OverviewFigures:
    """Sum the day buckets of a range: the funnel over every plan, and per segment over
    the plans that targeted it (a plan whose segment is not known yet is in the funnel
    only)."""
    funnel: dict[str, float] = {}
    by_segment: dict[str, dict[str, float]] = {}
    for day in days:
        for name, value in day.items():
            plan_id, _, figure = name.rpartition(DAY_FIELD_SEPARATOR)
            if figure not in OVERVIEW_FIGURES:
                continue
            amount = float(value)
            funnel[figure] = funnel.get(figure, 0) + amount
            segment = segment_of.get(plan_id)
            if segment is not None:
                sums = by_segment.setdefault(segment, {})
                sums[figure] = sums.get(figure, 0) + amount
    return OverviewFigures(
        funnel=Funnel(
            delivered=int(funnel.get("delivered", 0)),
            read=int(funnel.get("read", 0)),
            clicked=int(funnel.get("clicked", 0)),
            ordered=int(funnel.get("orders", 0)),
        ),
        segments=[
            SegmentDay(
                segment_id=segment,
                delivered=int(sums.get("delivered", 0)),
                read=int(sums.get("read", 0)),
                clicked=int(sums.get("clicked", 0)),
                orders=int(sums.get("orders", 0)),
                gmv=round(finite(sums.get("gmv", 0.0)), 2),
            )
            for segment, sums in sorted(by_segment.items())
        ],
    )


class SegmentSnapshot(BaseModel):
    """A segment's figures over the plans that targeted it, as of the end of a day."""

    model_config = ConfigDict(frozen=True)

    figures: PlanFigures = Field(default_factory=PlanFigures)
    plans: int = 0
    """Plans that targeted it with a figure up to that day."""


def snapshot_of(
    days: Iterable[Mapping[str, str]], segment_of: Mapping[str, str]
) -> dict[str, SegmentSnapshot]:
    """Each segment's figures from the day buckets up to and including day D: added-up
    figures summed over the days; a plan's fan-out counts (recipients, sent, suppressed)
    are cumulative, so the greatest — the latest day's — is taken. A plan whose segment
    is not known yet is left out; a segment no plan targeted has no entry."""
    per_plan: dict[str, dict[str, float]] = {}
    for day in days:
        for name, value in day.items():
            plan_id, _, figure = name.rpartition(DAY_FIELD_SEPARATOR)
            sums = per_plan.setdefault(plan_id, {})
            amount = float(value)
            if figure in DAILY_FIGURES:
                sums[figure] = sums.get(figure, 0) + amount
            elif figure in PROGRESS_FIGURES:
                sums[figure] = max(sums.get(figure, 0), amount)
    by_segment: dict[str, list[PlanFigures]] = {}
    for plan_id, sums in sorted(per_plan.items()):
        segment = segment_of.get(plan_id)
        if segment is not None:
            stored = {
                name: repr(amount) if name == "gmv" else str(int(amount))
                for name, amount in sums.items()
            }
            by_segment.setdefault(segment, []).append(figures_from_stored(stored))
    return {
        segment: SegmentSnapshot(figures=total(plans), plans=len(plans))
        for segment, plans in sorted(by_segment.items())
    }


# --- the reference fold --------------------------------------------------------------


@dataclass(frozen=True)
class Folded:
    plans: Mapping[tuple[str, str], Mapping[str, float]]
    days: Mapping[tuple[str, date], Mapping[str, float]]


def fold(tallies: Iterable[Tally]) -> Folded:
    """What the store holds after these tallies, in any order and with any repeats: each
    mark counts its figures once."""
    seen: set[tuple[str, str, MessageMark | OnceMark]] = set()
    plans: dict[tuple[str, str], dict[str, float]] = {}
    days: dict[tuple[str, date], dict[str, float]] = {}
    for tally in tallies:
        key = (tally.seller_id, tally.plan_id, tally.mark)
        if key in seen:
            continue
        seen.add(key)
        sums = plans.setdefault((tally.seller_id, tally.plan_id), {})
        for name, amount in tally.figures:
            sums[name] = sums.get(name, 0) + amount
        if tally.day is not None:
            bucket = days.setdefault((tally.seller_id, tally.day), {})
            for name, amount in daily_figures(tally):
                field = day_field(tally.plan_id, name)
                bucket[field] = bucket.get(field, 0) + amount
    return Folded(plans, days)
