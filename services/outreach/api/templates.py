"""GET /v1/templates: the pre-built templates, with their languages, the plan type each is
written for, its suggested button and (automated ones) its trigger."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from schemas.outbound import Button
from schemas.plans import Trigger
from services.outreach.api.auth import CustomersAccount
from services.outreach.api.paging import PageRequest, page_of, page_request
from services.outreach.api.problems import problem_responses
from services.outreach.api.runtime import Runtime, runtime_of
from services.outreach.domain import templates
from services.outreach.domain.templates import TemplateCategory, TemplateKind

router = APIRouter(tags=["templates"], responses=problem_responses(401, 403))


class TemplateView(BaseModel):
    template_id: str
    name: str
    description: str
    kind: TemplateKind = Field(description="The plan type it is written for.")
    category: TemplateCategory
    languages: list[str]
    texts: dict[str, str]
    placeholders: list[str] = Field(description="Filled in per recipient at fan-out.")
    suggested_button: Button
    trigger: Trigger | None = Field(
        description="An automated template's trigger with its default delay; an automated "
        "plan made from the template without a trigger gets this one."
    )


class TemplateList(BaseModel):
    items: list[TemplateView]
    next_cursor: str | None = None


@router.get("/v1/templates", response_model=TemplateList)
async def list_templates(
    account: CustomersAccount,
    runtime: Annotated[Runtime, Depends(runtime_of)],
    page: Annotated[PageRequest, Depends(page_request)],
) -> TemplateList:
    """The templates in the languages of the seller's market (English and the local
    ones); the whole catalogue while the seller's market is not known yet."""
    status = await runtime.quota.seller_status(account.seller_id)
    shown = templates.catalogue() if status is None else templates.for_market(status.market)
    # In catalogue order.
    order = {t.template_id: index for index, t in enumerate(templates.catalogue())}
    listed, next_cursor = page_of(
        "templates", shown, lambda t: (order[t.template_id], t.template_id), page
    )
    return TemplateList(
        items=[
            TemplateView(
                template_id=t.template_id,
                name=t.name,
                description=t.description,
                kind=t.kind,
                category=t.category,
                languages=list(t.languages),
                texts=t.texts,
                placeholders=list(t.placeholders),
                suggested_button=Button(type=t.suggested_button),
                trigger=t.trigger,
            )
            for t in listed
        ],
        next_cursor=next_cursor,
    )
