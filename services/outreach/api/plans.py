"""/v1/plans: the seller's plan management (SPEC sections 5 and 7).

Reads come from the plan read model; every change is a command to the plan processor,
and the answer it sends back is the response.
"""

from __future__ import annotations

import math
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response, status
from pydantic import BaseModel, ValidationError

from schemas.outbound import PlanType
from schemas.plans import (
    CancelPlan,
    CreatePlan,
    DeletePlan,
    EditPlan,
    Plan,
    PlanCommandAnswered,
    PlanDraft,
    PlanStatus,
    SubmitPlan,
)
from schemas.types import IDENTIFIER_MAX_LENGTH
from services.outreach.api.auth import Account, customers_account
from services.outreach.api.eligibility import EligibleAccount
from services.outreach.api.idempotency import check_idempotency_key
from services.outreach.api.paging import PageRequest, bad_cursor, cursor_after, page_request
from services.outreach.api.patterns import TRIMMED
from services.outreach.api.performance import PlanPerformance, PlanWithPerformance
from services.outreach.api.plan_requests import PlanIn, PlanPatch, draft_from
from services.outreach.api.plans_runtime import PlansRuntime
from services.outreach.api.problems import FieldError, ProblemError, invalid, problem_responses
from services.outreach.api.runtime import Runtime, runtime_of
from services.outreach.gateway import ReplyTimeout
from services.outreach.handlers import PlanCommand

router = APIRouter(
    prefix="/v1/plans", tags=["plans"], responses=problem_responses(404, 409, 422, 503)
)

_IDEMPOTENCY_NAMESPACE = uuid.UUID("0b9f3c1e-7d0a-4d55-9a43-2f9c1a6e5b10")
_STATUS_OF_OUTCOME = {"not_found": 404, "forbidden_action": 409, "version_conflict": 409}

CustomersAccount = Annotated[Account, Depends(customers_account)]
# An id the events accept (schemas.types.Identifier): anything else is a 422, not a
# command the schema would refuse.
PlanId = Annotated[str, Path(min_length=1, max_length=IDENTIFIER_MAX_LENGTH, pattern=TRIMMED)]


async def _plans(request: Request) -> PlansRuntime:
    # async: FastAPI runs a plain `def` dependency in its thread pool, a thread hop per
    # request for an attribute read.
    runtime: PlansRuntime = request.app.state.runtime.plans
    return runtime


Plans = Annotated[PlansRuntime, Depends(_plans)]
Page = Annotated[PageRequest, Depends(page_request)]


class PlanPage(BaseModel):
    items: list[Plan]
    next_cursor: str | None


@router.get("", summary="The seller's plans, newest first, a page at a time")
async def list_plans(
    account: CustomersAccount,
    plans: Plans,
    page: Page,
    type: Annotated[PlanType | None, Query()] = None,
    status: Annotated[PlanStatus | None, Query()] = None,
) -> PlanPage:
    after = page.after("plans")
    if after is not None and not (
        len(after) == 2
        and isinstance(after[0], int | float)
        and math.isfinite(after[0])
        and isinstance(after[1], str)
    ):
        raise bad_cursor()
    items, last = await plans.read_model.page(
        account.seller_id,
        limit=page.limit,
        after=None if after is None else (float(after[0]), after[1]),
        type=type,
        status=status,
    )
    return PlanPage(items=items, next_cursor=None if last is None else cursor_after("plans", last))


@router.post("", status_code=status.HTTP_201_CREATED, summary="Save a new draft")
async def create_plan(
    body: PlanIn,
    account: EligibleAccount,
    plans: Plans,
    runtime: Annotated[Runtime, Depends(runtime_of)],
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> Plan:
    draft = await _valid_draft(body.model_dump(exclude_unset=True), plans, account)
    if idempotency_key:
        await check_idempotency_key(
            runtime.redis,
            runtime.settings.topic_prefix,
            resource="plans",
            seller_id=account.seller_id,
            account_id=account.account_id,
            key=idempotency_key,
            body=body.model_dump(mode="json", exclude_unset=True),
        )
        # A retried POST (after a 503, say) answers with the plan the first one made.
        plan_id = str(
            uuid.uuid5(
                _IDEMPOTENCY_NAMESPACE,
                f"{account.seller_id}/{account.account_id}/{idempotency_key}",
            )
        )
    else:
        plan_id = str(uuid.uuid4())
    answer = await _send(plans, CreatePlan(**_command_fields(account, plan_id, plans), draft=draft))
    return _tagged(await _applied(answer, plans), response)


@router.get("/{plan_id}", summary="One plan, with its performance once dispatched")
async def get_plan(
    plan_id: PlanId,
    account: CustomersAccount,
    plans: Plans,
    runtime: Annotated[Runtime, Depends(runtime_of)],
    response: Response,
) -> PlanWithPerformance:
    plan = await plans.read_model.get(account.seller_id, plan_id)
    if plan is None:
        raise _not_found(plan_id)
    _tagged(plan, response)
    figures = await runtime.performance.plan(account.seller_id, plan_id)
    performance = PlanPerformance.model_validate(figures) if figures is not None else None
    return PlanWithPerformance(**dict(plan), performance=performance)


@router.patch(
    "/{plan_id}",
    summary="Edit a draft (only the fields given change)",
    responses=problem_responses(412),
)
async def edit_plan(
    plan_id: PlanId,
    body: PlanPatch,
    account: CustomersAccount,
    plans: Plans,
    response: Response,
    if_match: Annotated[
        str | None,
        Header(
            max_length=1024,
            description="The plan's ETag (its version) as read; 412 when it changed since.",
        ),
    ] = None,
) -> Plan:
    current = await plans.read_model.get(account.seller_id, plan_id)
    if current is None:
        raise _not_found(plan_id)
    expected = current.version
    if if_match is not None:
        expected = _matched_version(if_match, current)
    if current.status != "draft":
        raise ProblemError(409, "Forbidden action", f"cannot edit a plan that is {current.status}")
    fields = PlanDraft.model_fields.keys()
    merged: dict[str, Any] = current.model_dump(mode="json", include=set(fields))
    merged.update(body.model_dump(exclude_unset=True, mode="json"))
    draft = await _valid_draft(merged, plans, account)
    command = EditPlan(
        **_command_fields(account, plan_id, plans), draft=draft, expected_version=expected
    )
    answer = await _send(plans, command)
    if if_match is not None and answer.outcome == "version_conflict":
        # The plan changed between the read above and the processor's turn.
        raise _precondition_failed(None)
    return _tagged(await _applied(answer, plans), response)


@router.delete("/{plan_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a draft")
async def delete_plan(plan_id: PlanId, account: CustomersAccount, plans: Plans) -> Response:
    answer = await _send(plans, DeletePlan(**_command_fields(account, plan_id, plans)))
    await _applied(answer, plans)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{plan_id}/submit",
    summary="Submit a draft: scheduled, sending, ongoing or rejected with its reason",
)
async def submit_plan(plan_id: PlanId, account: EligibleAccount, plans: Plans) -> Plan:
    answer = await _send(plans, SubmitPlan(**_command_fields(account, plan_id, plans)))
    return await _applied(answer, plans)


@router.post("/{plan_id}/cancel", summary="Cancel a scheduled or ongoing plan")
async def cancel_plan(plan_id: PlanId, account: CustomersAccount, plans: Plans) -> Plan:
    answer = await _send(plans, CancelPlan(**_command_fields(account, plan_id, plans)))
    return await _applied(answer, plans)


# --- helpers -------------------------------------------------------------------------


def _command_fields(account: Account, plan_id: PlanId, plans: PlansRuntime) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4(),
        "occurred_at": plans.clock(),
        "correlation_id": uuid.uuid4(),
        "seller_id": account.seller_id,
        "account_id": account.account_id,
        "plan_id": plan_id,
    }


async def _valid_draft(fields: dict[str, Any], plans: PlansRuntime, account: Account) -> PlanDraft:
    try:
        draft = draft_from(fields)
    except ValidationError as exc:
        errors = _errors_of(exc)
        raise invalid("Invalid plan", errors) from None
    if isinstance(draft, list):
        errors = [FieldError(field=e["field"], message=e["message"]) for e in draft]
        raise invalid("Invalid plan", errors)
    problems = await plans.validate(draft, account.seller_id)
    if problems:
        errors = [FieldError(field=p.field, message=p.message) for p in problems]
        raise invalid("Invalid plan", errors)
    return draft


def _errors_of(exc: ValidationError) -> list[FieldError]:
    errors = []
    for error in exc.errors(include_url=False):
        ctx = error.get("ctx") or {}
        loc = [str(part) for part in error["loc"]]
        if "field" in ctx:
            loc.append(str(ctx["field"]))
        errors.append(FieldError(field=".".join(loc) or "body", message=error["msg"]))
    return errors


async def _send(plans: PlansRuntime, command: PlanCommand) -> PlanCommandAnswered:
    try:
        return await plans.gateway.send(command)
    except ReplyTimeout:
        raise ProblemError(
            503,
            "Plan processor busy",
            "the plan processor did not answer in time; the request may still take effect, "
            "read the plan before retrying",
            headers={"Retry-After": str(plans.retry_after_seconds)},
        ) from None


async def _applied(answer: PlanCommandAnswered, plans: PlansRuntime) -> Plan:
    if answer.outcome != "applied" or answer.plan is None:
        code = _STATUS_OF_OUTCOME.get(answer.outcome, 409)
        title = "Plan not found" if code == 404 else "Forbidden action"
        raise ProblemError(code, title, answer.detail or answer.outcome)
    # Read your writes: the next GET must see what this answer says.
    await plans.read_model.put(answer.plan, deleted=answer.command == "DeletePlan")
    return answer.plan


def etag(plan: Plan) -> str:
    return f'"{plan.version}"'


def _tagged(plan: Plan, response: Response) -> Plan:
    response.headers["ETag"] = etag(plan)
    return plan


def _matched_version(if_match: str, current: Plan) -> int:
    """The version an If-Match names when it matches the plan (RFC 9110: strong
    comparison, so a weak tag never matches), else 412."""
    tags = [tag.strip() for tag in if_match.split(",")]
    if "*" in tags or etag(current) in tags:
        return current.version
    raise _precondition_failed(current)


def _precondition_failed(current: Plan | None) -> ProblemError:
    now = f"; it is now {etag(current)}" if current is not None else ""
    return ProblemError(
        412,
        "Precondition Failed",
        f"the plan is no longer the version If-Match names{now}; read it again",
        headers={"ETag": etag(current)} if current is not None else None,
    )


def _not_found(plan_id: str) -> ProblemError:
    return ProblemError(404, "Plan not found", f"no plan {plan_id} for this seller")
