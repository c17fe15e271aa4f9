"""GET /v1/templates: the pre-built templates, with their languages."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from services.outreach.api.auth import CustomersAccount
from services.outreach.api.problems import problem_responses
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
async def list_templates(account: CustomersAccount) -> TemplateList:
    """Every pre-built template (the catalogue is not narrowed to a market yet)."""
    return TemplateList(
        items=[
            TemplateView(
                template_id=t.template_id, name=t.name, languages=list(t.languages), texts=t.texts
            )
            for t in templates.catalogue()
        ]
    )
