"""The plan rules the schema cannot check alone: they need a clock, the template catalogue
or the seller's segments (SPEC section 5).

Each rule answers with `Problem`s rather than raising, so a seller sees every problem of a
draft at once. `time_problems` is the clock-dependent part on its own: the processor
re-checks it at submit, because a draft saved with send_at tomorrow may be submitted after
that instant has passed.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence, Set
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict, ValidationError

from schemas.outbound import Button
from schemas.placeholders import PLACEHOLDERS, placeholders_in, unknown_placeholders
from schemas.plans import PlanContent, PlanDraft
from services.outreach.domain.characters import describe, forbidden_characters
from services.outreach.domain.templates import Template, find, market_languages

BUILTIN_SEGMENTS = frozenset(
    {
        "new_customers",
        "repeat_customers",
        "high_value_customers",
        "lapsed_customers",
        "followers_not_purchased",
        "cart_abandoners",
        "engaged_visitors",
    }
)
# Measured in elapsed time (30 × 24 hours), not calendar days in some zone, so the answer
# does not depend on the offset `now` or `send_at` happens to be written in.
MAX_SCHEDULE_AHEAD = timedelta(days=30)

# An ISO 639 code in lowercase, optionally with a region as BCP 47 writes it: th, fil,
# zh-SG, es-419. One spelling per language, so a customer's app language matches a key.
_LANGUAGE_CODE = re.compile(r"[a-z]{2,3}(?:-(?:[A-Z]{2}|[0-9]{3}))?")
_AUTOMATED_FIELDS = {
    "trigger": "a trigger",
    "starts_at": "starts_at, when it begins",
    "ends_at": "ends_at, when it ends",
}
_KNOWN_PLACEHOLDERS = ", ".join(f"{{{name}}}" for name in sorted(PLACEHOLDERS))


class Problem(BaseModel):
    """One reason a plan cannot be saved or sent.

    `field` is a dotted path into the plan ("content.texts.th", "send_at"), `code` a stable
    name for programs, `message` a sentence for the seller.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    field: str
    code: str
    message: str


def validate_draft(draft: PlanDraft, *, now: datetime, known_segments: Set[str]) -> list[Problem]:
    """Every problem of a draft; empty means it may be submitted as of `now`.

    `known_segments` are the seller's custom segment ids; built-in ones always exist.
    """
    return [
        *_name_problems(draft),
        *_character_problems(draft),
        *segment_problems(draft.segment_id, known_segments),
        *content_problems(draft.content),
        *_schedule_shape_problems(draft),
        *time_problems(draft, now=now),
    ]


def time_problems(draft: PlanDraft, *, now: datetime) -> list[Problem]:
    """The rules that depend on the clock alone. A `Plan` is a `PlanDraft`, so the
    processor passes the stored plan at submit time."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(UTC)
    problems: list[Problem] = []
    if draft.type == "automated":
        if draft.ends_at is not None and draft.ends_at <= now:
            problems.append(
                Problem(
                    field="ends_at",
                    code="ends_in_past",
                    message=f"The end time {draft.ends_at.isoformat()} is not in the future "
                    f"(it is now {now.isoformat()}); choose a later end.",
                )
            )
        return problems
    if draft.send_at is not None:
        latest = now + MAX_SCHEDULE_AHEAD
        if draft.send_at <= now:
            problems.append(
                Problem(
                    field="send_at",
                    code="send_at_in_past",
                    message=f"The send time {draft.send_at.isoformat()} is not in the future "
                    f"(it is now {now.isoformat()}); choose a later time or send now.",
                )
            )
        elif draft.send_at > latest:
            problems.append(
                Problem(
                    field="send_at",
                    code="send_at_too_far",
                    message=f"The send time {draft.send_at.isoformat()} is more than "
                    f"{MAX_SCHEDULE_AHEAD.days} days ahead; choose a time no later than "
                    f"{latest.isoformat()}.",
                )
            )
    return problems


def content_problems(content: PlanContent) -> list[Problem]:
    """Template, language, placeholder, coupon and button rules of a plan's content."""
    return [
        *_template_problems(content),
        *_language_problems(content),
        *_text_problems(content),
        *_attachment_problems(content),
    ]


def content_from_template(
    *,
    template_id: str | None,
    default_language: str,
    texts: Mapping[str, str] | None,
    product_ids: Sequence[str] = (),
    coupon_id: str | None = None,
    button: Button | None = None,
    market: str | None = None,
) -> PlanContent | list[Problem]:
    """The content of a plan request whose texts may be left out (SPEC section 7).

    Without texts (None or empty) the template's texts are used: those of the seller's
    `market` when given, else every catalogue language. Texts the seller wrote replace the
    template's entirely; they are not merged, so no language keeps wording the seller
    never saw. The remaining content rules are `content_problems`' (via `validate_draft`).
    """
    if not texts:
        if template_id is None:
            return [
                Problem(
                    field="content.texts",
                    code="texts_missing",
                    message="Give texts, at least one for the default language, or a template_id.",
                )
            ]
        template = find(template_id)
        if template is None:
            return [_unknown_template(template_id)]
        if market is not None:
            template = template.in_languages(market_languages(market))
        if default_language not in template.texts:
            return [_language_not_in_template(default_language, template)]
        texts = template.texts
    try:
        return PlanContent.model_validate(
            {
                "template_id": template_id,
                "default_language": default_language,
                "texts": dict(texts),
                "product_ids": list(product_ids),
                "coupon_id": coupon_id,
                "button": button,
            }
        )
    except ValidationError as error:
        return _schema_problems(error, prefix="content")


# --- the rules, one group each ---------------------------------------------------------


def _name_problems(draft: PlanDraft) -> list[Problem]:
    if draft.name.strip():
        return []
    return [Problem(field="name", code="blank", message="The plan name must not be blank.")]


def _character_problems(draft: PlanDraft) -> list[Problem]:
    written = [("name", draft.name, False)]
    written += [(f"content.texts.{lang}", text, True) for lang, text in draft.content.texts.items()]
    problems = []
    for field, value, multiline in written:
        found = forbidden_characters(value, multiline=multiline)
        if found:
            problems.append(
                Problem(field=field, code="forbidden_characters", message=describe(found))
            )
    return problems


def segment_problems(segment_id: str, known_segments: Set[str]) -> list[Problem]:
    """The plan's segment must exist: a built-in one or one of the seller's live ones
    (checked again at submit: it may be deleted after the plan was saved)."""
    if segment_id in BUILTIN_SEGMENTS or segment_id in known_segments:
        return []
    return [
        Problem(
            field="segment_id",
            code="unknown_segment",
            message=f"Segment {segment_id!r} does not exist; choose a built-in segment "
            f"({', '.join(sorted(BUILTIN_SEGMENTS))}) or one of your custom segments.",
        )
    ]


def _schedule_shape_problems(draft: PlanDraft) -> list[Problem]:
    # Which schedule fields a plan type takes; whether the instants are still valid is
    # time_problems'.
    problems = _campaign_shape_problems(draft)
    if draft.type == "automated":
        return problems + _automated_shape_problems(draft)
    problems += [
        _not_for(field, draft.type, "send_at or send_now")
        for field in ("trigger", "starts_at", "ends_at")
        if getattr(draft, field) is not None
    ]
    if draft.send_at is None and not draft.send_now:
        problems.append(
            Problem(
                field="send_at",
                code="send_time_missing",
                message=f"A {draft.type} plan needs send_at or send_now: true.",
            )
        )
    elif draft.send_at is not None and draft.send_now:
        problems.append(
            Problem(
                field="send_now",
                code="send_at_and_send_now",
                message="Give send_at or send_now: true, not both.",
            )
        )
    return problems


def _campaign_shape_problems(draft: PlanDraft) -> list[Problem]:
    # Whether the campaign exists, is live and runs in the seller's market needs the
    # calendar: the processor judges it at submit (domain/campaigns.py).
    if draft.type == "campaign" and draft.campaign_id is None:
        return [
            Problem(
                field="campaign_id",
                code="campaign_missing",
                message="A campaign plan names the marketplace campaign it belongs to "
                "(campaign_id); without one, use a one_time plan.",
            )
        ]
    if draft.type != "campaign" and draft.campaign_id is not None:
        return [_not_for("campaign_id", draft.type, "the weekly quota, not a campaign's")]
    return []


def _automated_shape_problems(draft: PlanDraft) -> list[Problem]:
    problems: list[Problem] = []
    if draft.send_at is not None:
        problems.append(_not_for("send_at", "automated", "trigger, starts_at and ends_at"))
    if draft.send_now:
        problems.append(_not_for("send_now", "automated", "trigger, starts_at and ends_at"))
    for field in _AUTOMATED_FIELDS:
        if getattr(draft, field) is None:
            problems.append(
                Problem(
                    field=field,
                    code="missing",
                    message=f"An automated plan needs {_AUTOMATED_FIELDS[field]}.",
                )
            )
    starts_at, ends_at = draft.starts_at, draft.ends_at
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        problems.append(
            Problem(
                field="ends_at",
                code="ends_before_start",
                message=f"The end time {ends_at.isoformat()} must be after the start time "
                f"{starts_at.isoformat()}.",
            )
        )
    return problems


def _template_problems(content: PlanContent) -> list[Problem]:
    if content.template_id is None:
        return []
    template = find(content.template_id)
    if template is None:
        return [_unknown_template(content.template_id)]
    if content.default_language not in template.languages:
        return [_language_not_in_template(content.default_language, template)]
    return []


def _language_problems(content: PlanContent) -> list[Problem]:
    fields = {"content.default_language": content.default_language} | {
        f"content.texts.{language}": language for language in content.texts
    }
    return [
        Problem(
            field=field,
            code="language_code",
            message=f"{language!r} is not a language code; use a lowercase ISO 639 code "
            "such as th, en or fil, optionally with a region such as zh-SG.",
        )
        for field, language in fields.items()
        if _LANGUAGE_CODE.fullmatch(language) is None
    ]


def _text_problems(content: PlanContent) -> list[Problem]:
    problems: list[Problem] = []
    for language, text in content.texts.items():
        field = f"content.texts.{language}"
        if not text.strip():
            problems.append(
                Problem(field=field, code="blank", message=f"The {language} text is blank.")
            )
        if unknown := unknown_placeholders(text):
            problems.append(
                Problem(
                    field=field,
                    code="unknown_placeholder",
                    message=f"The {language} text uses {', '.join(unknown)}, which "
                    f"{'is not a placeholder' if len(unknown) == 1 else 'are not placeholders'}"
                    f"; the placeholders are {_KNOWN_PLACEHOLDERS}, and {{{{ and }}}} "
                    "write a literal brace.",
                )
            )
    return problems


def _attachment_problems(content: PlanContent) -> list[Problem]:
    problems: list[Problem] = []
    using_coupon = [
        lang for lang, text in content.texts.items() if "coupon" in placeholders_in(text)
    ]
    if using_coupon and content.coupon_id is None:
        problems.append(
            Problem(
                field="content.coupon_id",
                code="coupon_missing",
                message=f"The {', '.join(using_coupon)} text uses {{coupon}}, so the plan "
                "needs a coupon_id.",
            )
        )
    button = content.button.type if content.button is not None else None
    if button == "coupon" and content.coupon_id is None and not using_coupon:
        problems.append(
            Problem(
                field="content.coupon_id",
                code="coupon_missing",
                message="A coupon button needs a coupon_id.",
            )
        )
    if button == "product_detail" and not content.product_ids:
        problems.append(
            Problem(
                field="content.product_ids",
                code="products_missing",
                message="A product_detail button needs at least one product.",
            )
        )
    if repeated := [pid for pid, count in Counter(content.product_ids).items() if count > 1]:
        problems.append(
            Problem(
                field="content.product_ids",
                code="duplicate_product",
                message=f"Each product may appear once; repeated: {', '.join(repeated)}.",
            )
        )
    return problems


# --- shared wording ---------------------------------------------------------------------


def _not_for(field: str, plan_type: str, instead: str) -> Problem:
    return Problem(
        field=field,
        code="not_allowed",
        message=f"A {plan_type} plan takes no {field}; it uses {instead}.",
    )


def _unknown_template(template_id: str) -> Problem:
    return Problem(
        field="content.template_id",
        code="unknown_template",
        message=f"Template {template_id!r} does not exist; GET /v1/templates lists them.",
    )


def _language_not_in_template(language: str, template: Template) -> Problem:
    return Problem(
        field="content.default_language",
        code="language_not_in_template",
        message=f"Template {template.template_id} has no {language} text; its languages "
        f"are {', '.join(template.languages)}.",
    )


def _schema_problems(error: ValidationError, *, prefix: str) -> list[Problem]:
    problems = []
    for detail in error.errors(include_url=False):
        # Model-level checks of the schema name their field in the context.
        context_field = (detail.get("ctx") or {}).get("field")
        parts = [prefix, *(str(part) for part in detail["loc"] if part != "[key]")]
        if context_field:
            parts.append(str(context_field))
        message = detail["msg"]
        problems.append(
            Problem(
                field=".".join(parts),
                code=detail["type"],
                message=message[:1].upper() + message[1:].rstrip(".") + ".",
            )
        )
    return problems
