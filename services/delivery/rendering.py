"""OutboundMessage JSON, fast: a plan's fixed fields are encoded once per language and
each recipient adds only its ids.

At a million recipients per plan, building and dumping a pydantic model per message
would cost more than producing it; the bytes here are the same event (the tests parse
them back through the schema and compare with `reference_message`).
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import orjson

from schemas.outbound import OutboundMessage
from schemas.plans import Plan
from services.delivery.domain.messages import MESSAGE_NAMESPACE, language_for, message_id

_NAMESPACE_BYTES = MESSAGE_NAMESPACE.bytes


def fast_message_id(plan_prefix: bytes, customer_id: str) -> str:
    """`str(message_id(plan_id, customer_id))` without building UUID objects;
    `plan_prefix` is `plan_id.encode() + b"/"`."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + plan_prefix + customer_id.encode()).digest())
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest[:16].hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def reference_message(
    plan: Plan, customer_id: str, app_language: str | None, at: datetime
) -> OutboundMessage:
    """The message as the schema builds it; what `PlanRenderer` must equal."""
    language = language_for(plan.content, app_language)
    mid = message_id(plan.plan_id, customer_id)
    return OutboundMessage(
        event_id=mid,
        occurred_at=at,
        message_id=str(mid),
        plan_id=plan.plan_id,
        plan_type=plan.type,
        seller_id=plan.seller_id,
        customer_id=customer_id,
        language=language,
        text=plan.content.texts[language],
        product_ids=list(plan.content.product_ids),
        coupon_id=plan.content.coupon_id,
        button=plan.content.button,
    )


class PlanRenderer:
    """Encodes one plan's messages as of one instant."""

    def __init__(self, plan: Plan, at: datetime) -> None:
        self.plan = plan
        self._prefix = plan.plan_id.encode() + b"/"
        content = plan.content
        head = {
            "event_type": "OutboundMessage",
            "schema_version": 1,
            "occurred_at": at.isoformat(),
        }
        self._head = orjson.dumps(head)[:-1] + b',"event_id":"'
        self._tails: dict[str, bytes] = {}
        for language, text in content.texts.items():
            fixed = {
                "plan_id": plan.plan_id,
                "plan_type": plan.type,
                "seller_id": plan.seller_id,
                "language": language,
                "text": text,
                "product_ids": list(content.product_ids),
                "coupon_id": content.coupon_id,
                "button": None if content.button is None else content.button.model_dump(),
            }
            self._tails[language] = b"," + orjson.dumps(fixed)[1:]

    @property
    def default(self) -> str:
        return self.plan.content.default_language

    @property
    def has_choice(self) -> bool:
        """More than one language: each customer's profile decides."""
        return len(self.plan.content.texts) > 1

    def language(self, app_language: str | None) -> str:
        return language_for(self.plan.content, app_language)

    def render(self, customer_id: str, message_id: str, language: str) -> bytes:
        """The message to this customer in `language` (one of `language()`'s answers);
        `message_id` is `fast_message_id` of the plan and customer."""
        mid = message_id.encode()
        return b"".join(
            (
                self._head,
                mid,
                b'","message_id":"',
                mid,
                b'","customer_id":',
                orjson.dumps(customer_id),
                self._tails[language],
            )
        )
