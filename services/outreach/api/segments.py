"""/v1/segments: the seven built-in segments and the seller's custom ones, with their
size as of the latest daily recompute ("as of yesterday"), their performance as a daily
snapshot as of yesterday, and a preview count for conditions computed on demand (SPEC
sections 5 and 7).

Custom segments are saved and deleted as facts on crm.segments and recorded at once
(read-your-writes); sizes come from the customers store the recompute writes.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from schemas.markets import MARKET_TIME_ZONES, local_date
from schemas.segments import MAX_CONDITIONS, SEGMENT_NAME_MAX_LENGTH, SegmentCondition
from schemas.types import IDENTIFIER_MAX_LENGTH
from services.customers.port import (
    BUILTIN_SEGMENT_IDS,
    FIELD_KINDS,
    OPS,
    SEGMENTS_TOPIC,
    Condition,
    SegmentDefinition,
    SegmentId,
    cutoff,
    define_segment,
    delete_segment,
    validate_conditions,
    warnings,
)
from services.delivery.performance.reader import no_segment_figures
from services.outreach.api.auth import CustomersAccount
from services.outreach.api.idempotency import check_idempotency_key
from services.outreach.api.paging import PageRequest, page_of, page_request
from services.outreach.api.patterns import CLEAN_NAME, NOT_SPACE, TRIMMED
from services.outreach.api.performance import SegmentPerformance, SegmentPerformanceSnapshot
from services.outreach.api.problems import FieldError, ProblemError, invalid, problem_responses
from services.outreach.api.runtime import Runtime, runtime_of

router = APIRouter(
    prefix="/v1/segments", tags=["segments"], responses=problem_responses(404, 422, 503)
)

BUILTIN_NAMES: dict[SegmentId, tuple[str, str]] = {
    "new_customers": ("New customers", "First order in the last 30 days."),
    "repeat_customers": ("Repeat customers", "2 or more orders in the last 180 days."),
    "high_value_customers": (
        "High-value customers",
        "Top 10% of this shop's customers by spend in the last 365 days.",
    ),
    "lapsed_customers": ("Lapsed customers", "Ordered before, but not in the last 90 days."),
    "followers_not_purchased": (
        "Followers who have not purchased",
        "Follow the shop, never ordered.",
    ),
    "cart_abandoners": ("Cart abandoners", "Added to cart in the last 7 days, no order since."),
    "engaged_visitors": (
        "Engaged visitors",
        "Viewed a product or chatted in the last 30 days, never ordered.",
    ),
}
_IDEMPOTENCY_NAMESPACE = uuid.UUID("5d7c2a8e-31f4-4b0e-9c6a-8e2f4d1b7a93")

SegmentPathId = Annotated[
    str, Path(min_length=1, max_length=IDENTIFIER_MAX_LENGTH, pattern=TRIMMED)
]
Rt = Annotated[Runtime, Depends(runtime_of)]

# Documented for clients; the conditions are checked by the customers domain
# (`validate_conditions`), whose messages name the condition and what it needs.
_CONDITION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "field": {"type": "string", "enum": sorted(FIELD_KINDS)},
        "op": {"type": "string", "enum": list(OPS)},
        "value": {"description": "A text, number, [low, high] or list, or null for is_true"},
    },
    "required": ["field", "op"],
}


def _conditions_field(description: str) -> Any:
    return Field(description=description, json_schema_extra={"items": _CONDITION_SCHEMA})


class SegmentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[
        str, Field(min_length=1, max_length=SEGMENT_NAME_MAX_LENGTH, pattern=NOT_SPACE), CLEAN_NAME
    ]
    conditions: list[JsonValue] = _conditions_field(
        f"1 to {MAX_CONDITIONS} conditions, all of which a member meets; fewer than 3 is "
        "allowed with the warning fewer_than_3_conditions."
    )


class PreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conditions: list[JsonValue] = _conditions_field("The conditions to count members of.")


class ConditionOut(BaseModel):
    field: str
    op: str
    value: JsonValue = None


_SNAPSHOT = (
    "Summed over the plans that targeted it, as a daily snapshot as of yesterday "
    "(`performance.as_of`); zeros when none had figures by then. Never null."
)
_LIVE = (
    "The same figures live, today's events so far included (GET /v1/segments/{id} only; "
    "null before any plan targeted it)."
)


class BuiltinSegment(BaseModel):
    segment_id: str
    name: str
    description: str
    builtin: Literal[True] = True
    size: int | None = Field(description="Members as of `as_of`; null before the first recompute.")
    as_of: date | None = Field(description="The day D of the latest complete recompute.")
    performance: SegmentPerformanceSnapshot = Field(description=_SNAPSHOT)
    performance_live: SegmentPerformance | None = Field(default=None, description=_LIVE)


class CustomSegment(BaseModel):
    segment_id: str
    name: str
    builtin: Literal[False] = False
    conditions: list[ConditionOut]
    warnings: list[str]
    defined_at: datetime
    size: int | None = Field(description="Members as of `as_of`; null until it is recomputed.")
    as_of: date | None
    performance: SegmentPerformanceSnapshot = Field(description=_SNAPSHOT)
    performance_live: SegmentPerformance | None = Field(default=None, description=_LIVE)


Segment = BuiltinSegment | CustomSegment


class SegmentList(BaseModel):
    items: list[Segment]
    next_cursor: str | None = None


class Preview(BaseModel):
    count: int
    warnings: list[str]
    as_of: date = Field(description="Counted over events before this day's 00:00 market-local.")


Snapshots = tuple[date, dict[str, dict[str, Any]]]
"""The performance snapshots' day, and segment → figures (delivery's reader)."""


def _snapshot(segment_id: str, snapshots: Snapshots) -> SegmentPerformanceSnapshot:
    as_of, figures = snapshots
    found = figures.get(segment_id) or no_segment_figures()
    return SegmentPerformanceSnapshot.model_validate({**found, "as_of": as_of})


async def _snapshots(runtime: Runtime, seller_id: str) -> Snapshots:
    return await runtime.performance.segment_snapshots(seller_id, runtime.clock())


def _builtin(
    segment_id: SegmentId, as_of: date | None, sizes: dict[str, int], snapshots: Snapshots
) -> BuiltinSegment:
    name, description = BUILTIN_NAMES[segment_id]
    size = sizes.get(segment_id)
    return BuiltinSegment(
        segment_id=segment_id,
        name=name,
        description=description,
        size=size,
        as_of=as_of if size is not None else None,
        performance=_snapshot(segment_id, snapshots),
    )


def _custom(
    definition: SegmentDefinition,
    as_of: date | None,
    sizes: dict[str, int],
    snapshots: Snapshots,
) -> CustomSegment:
    size = sizes.get(definition.segment_id)
    return CustomSegment(
        segment_id=definition.segment_id,
        name=definition.name,
        conditions=[ConditionOut(**c.model_dump()) for c in definition.conditions],
        warnings=warnings(definition.conditions),
        defined_at=definition.defined_at,
        size=size,
        as_of=as_of if size is not None else None,
        performance=_snapshot(definition.segment_id, snapshots),
    )


def _valid_conditions(conditions: list[JsonValue]) -> list[Condition]:
    """The conditions as the domain matches them, or a 422 naming each bad one."""
    if len(conditions) > MAX_CONDITIONS:
        message = f"A custom segment has at most {MAX_CONDITIONS} conditions."
        raise _invalid([FieldError(field="conditions", message=message)])
    problems = validate_conditions(conditions)  # type: ignore[arg-type]
    if problems:
        raise _invalid([FieldError(field=p.field, message=p.message) for p in problems])
    return [Condition.model_validate(c) for c in conditions]


def _invalid(errors: list[FieldError]) -> ProblemError:
    return invalid("Invalid segment", errors)


def _not_found(segment_id: str) -> ProblemError:
    return ProblemError(404, "Segment not found", f"no segment {segment_id} for this seller")


@router.get("", summary="Built-in segments, then the seller's custom ones, with sizes")
async def list_segments(
    account: CustomersAccount, runtime: Rt, page: Annotated[PageRequest, Depends(page_request)]
) -> SegmentList:
    as_of, sizes = await runtime.customers.sizes(account.seller_id)
    snapshots = await _snapshots(runtime, account.seller_id)
    items: list[Segment] = [_builtin(s, as_of, sizes, snapshots) for s in BUILTIN_SEGMENT_IDS]
    for definition in await runtime.customers.live_segments(account.seller_id):
        items.append(_custom(definition, as_of, sizes, snapshots))
    shown, next_cursor = page_of("segments", items, _listed_order, page)
    return SegmentList(items=shown, next_cursor=next_cursor)


def _listed_order(segment: Segment) -> tuple[int, int, float, str]:
    """Built-in ones in their fixed order, then custom ones oldest first."""
    if isinstance(segment, BuiltinSegment):
        return (0, BUILTIN_SEGMENT_IDS.index(segment.segment_id), 0.0, segment.segment_id)
    return (1, 0, segment.defined_at.timestamp(), segment.segment_id)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Save a custom segment (its size comes with the next daily recompute)",
)
async def create_segment(
    body: SegmentRequest,
    account: CustomersAccount,
    runtime: Rt,
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> CustomSegment:
    conditions = _valid_conditions(body.conditions)
    if idempotency_key:
        await check_idempotency_key(
            runtime.redis,
            runtime.settings.topic_prefix,
            resource="segments",
            seller_id=account.seller_id,
            account_id=account.account_id,
            key=idempotency_key,
            body=body.model_dump(mode="json"),
        )
        # A retried POST answers with the segment the first one saved.
        key = f"{account.seller_id}/{account.account_id}/{idempotency_key}"
        segment_id = str(uuid.uuid5(_IDEMPOTENCY_NAMESPACE, key))
        existing = await runtime.customers.segment(account.seller_id, segment_id)
        if existing is not None:
            return _custom(existing, None, {}, await _snapshots(runtime, account.seller_id))
    else:
        segment_id = str(uuid.uuid4())
    try:
        saved = await define_segment(
            runtime.customers,
            lambda event: runtime.publish(SEGMENTS_TOPIC, event, key=event.seller_id),
            seller_id=account.seller_id,
            account_id=account.account_id,
            segment_id=segment_id,
            name=body.name,
            conditions=[SegmentCondition(**c.model_dump()) for c in conditions],
            now=runtime.clock(),
        )
    except LookupError:
        raise ProblemError(409, "Conflict", "this segment was deleted meanwhile") from None
    return _custom(saved, None, {}, await _snapshots(runtime, account.seller_id))


@router.post(
    "/preview",
    summary="How many customers meet these conditions today",
    responses=problem_responses(409),
)
async def preview_segment(body: PreviewRequest, account: CustomersAccount, runtime: Rt) -> Preview:
    """Counted now over the seller's customers as of today 00:00 market-local, by the rule
    the daily recompute uses."""
    conditions = _valid_conditions(body.conditions)
    market = await runtime.customers.market(account.seller_id)
    if market not in MARKET_TIME_ZONES:
        raise ProblemError(
            409,
            "Market not known yet",
            "this shop's market (its calendar) is not known yet; it comes with the shop's "
            "first metrics report",
        )
    today = local_date(runtime.clock(), market)
    count = await runtime.customers.count_matching(
        account.seller_id, conditions, cutoff(today, market)
    )
    return Preview(count=count, warnings=warnings(conditions), as_of=today)


@router.get("/{segment_id}", summary="One segment, built-in or custom")
async def get_segment(segment_id: SegmentPathId, account: CustomersAccount, runtime: Rt) -> Segment:
    as_of, sizes = await runtime.customers.sizes(account.seller_id)
    snapshots = await _snapshots(runtime, account.seller_id)
    segment: Segment
    if segment_id in BUILTIN_NAMES:
        segment = _builtin(segment_id, as_of, sizes, snapshots)
    else:
        definition = await runtime.customers.segment(account.seller_id, segment_id)
        if definition is None:
            raise _not_found(segment_id)
        segment = _custom(definition, as_of, sizes, snapshots)
    live = await runtime.performance.segment(account.seller_id, segment_id)
    if live is None:
        return segment
    return segment.model_copy(update={"performance_live": SegmentPerformance.model_validate(live)})


@router.delete(
    "/{segment_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a custom segment (built-in ones cannot be)",
    responses=problem_responses(409),
)
async def delete_custom_segment(
    segment_id: SegmentPathId, account: CustomersAccount, runtime: Rt
) -> Response:
    if segment_id in BUILTIN_NAMES:
        detail = f"{segment_id} is built in; it cannot be deleted"
        raise ProblemError(409, "Forbidden action", detail)
    if await runtime.customers.segment(account.seller_id, segment_id) is None:
        raise _not_found(segment_id)
    await delete_segment(
        runtime.customers,
        lambda event: runtime.publish(SEGMENTS_TOPIC, event, key=event.seller_id),
        seller_id=account.seller_id,
        account_id=account.account_id,
        segment_id=segment_id,
        now=runtime.clock(),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
