"""The bodies of POST and PATCH /v1/plans, and the draft they make.

Looser than the event schemas on purpose (JSON types are coerced the usual HTTP way);
the draft they turn into is checked by the strict schema and the domain validation.
"""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.engagement import ClickTarget
from schemas.outbound import PlanType
from schemas.plans import PlanDraft, TriggerType
from services.outreach.api.problems import excerpt
from services.outreach.domain import templates


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ButtonIn(_Body):
    type: ClickTarget


class ContentIn(_Body):
    template_id: str | None = None
    default_language: str
    texts: dict[str, str] | None = Field(
        default=None, description="Text per language; may be left out with a template_id."
    )
    product_ids: list[str] = Field(default_factory=list)
    coupon_id: str | None = None
    button: ButtonIn | None = None


class TriggerIn(_Body):
    type: TriggerType
    after_hours: int | None = None
    after_days: int | None = None


class PlanIn(_Body):
    type: PlanType
    name: str
    segment_id: str
    content: ContentIn
    send_at: AwareDatetime | None = None
    send_now: bool = False
    trigger: TriggerIn | None = None
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    campaign_id: str | None = Field(
        default=None, description="The marketplace campaign of a campaign plan (required there)."
    )


class PlanPatch(_Body):
    """Only the fields given change; `content` is replaced as a whole."""

    type: PlanType | None = None
    name: str | None = None
    segment_id: str | None = None
    content: ContentIn | None = None
    send_at: AwareDatetime | None = None
    send_now: bool | None = None
    trigger: TriggerIn | None = None
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    campaign_id: str | None = None


def draft_from(fields: dict[str, Any]) -> PlanDraft | list[dict[str, str]]:
    """The draft of a request's fields, with a template's texts filled in when the
    request names a template and gives no texts, and an automated template's trigger
    (with its default delay) when an automated plan gives none. Raises ValidationError
    on bad fields."""
    content = dict(fields.get("content") or {})
    template = None
    if content.get("template_id"):
        template = templates.find(str(content["template_id"]))
        if template is None and not content.get("texts"):
            known = ", ".join(t.template_id for t in templates.catalogue())
            return [
                {
                    "field": "content.template_id",
                    "message": f"unknown template {excerpt(str(content['template_id']))!r} "
                    f"(known: {known})",
                }
            ]
    if template is not None and not content.get("texts"):
        content["texts"] = dict(template.texts)
    fields = {**fields, "content": content}
    if (
        template is not None
        and template.trigger is not None
        and fields.get("type") == "automated"
        and fields.get("trigger") is None
    ):
        fields["trigger"] = template.trigger.model_dump()
    return PlanDraft.model_validate(fields, strict=False)
