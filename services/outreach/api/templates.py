"""GET /v1/templates: the pre-built templates, with their languages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from services.outreach.api.auth import CustomersAccount
from services.outreach.api.problems import problem_responses
from services.outreach.api.runtime import Runtime, runtime_of
from services.outreach.domain import templates

router = APIRouter(tags=["templates"], responses=problem_responses(401, 403))


class TemplateView(BaseModel):
    template_id: str
    name: str
    languages: list[str]
    texts: dict[str, str]


class TemplateList(BaseModel):
    items: list[TemplateView]


@router.get("/v1/templates", response_model=TemplateList)
async def list_templates(
    account: CustomersAccount, runtime: Annotated[Runtime, Depends(runtime_of)]
) -> TemplateList:
    """The templates in the languages of the seller's market (English and the local
    ones); the whole catalogue while the seller's market is not known yet."""
    status = await runtime.quota.seller_status(account.seller_id)
    shown = templates.catalogue() if status is None else templates.for_market(status.market)
    return TemplateList(
        items=[
            TemplateView(
                template_id=t.template_id, name=t.name, languages=list(t.languages), texts=t.texts
            )
            for t in shown
        ]
    )
