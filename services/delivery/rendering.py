"""OutboundMessage JSON, fast: a plan's fixed fields are encoded once per language and
each recipient adds only its ids (and, when the text uses it, its name).

At a million recipients per plan, building and dumping a pydantic model per message
would cost more than producing it; the bytes here are the same event (the tests parse
them back through the schema and compare with `reference_message`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

import numpy as np
import orjson

from schemas.outbound import OutboundMessage
from schemas.plans import Plan
from services.delivery.domain.messages import MESSAGE_NAMESPACE, language_for, message_id
from services.delivery.domain.placeholders import Personalized, render

_NAMESPACE_BYTES = MESSAGE_NAMESPACE.bytes
_sha1 = hashlib.sha1
_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
# Where each of a UUID's 32 hex digits goes in its 36-character text, and the dashes.
_DIGIT_AT = np.array([*range(8), *range(9, 13), *range(14, 18), *range(19, 23), *range(24, 36)])
_DASHES = [8, 13, 18, 23]


def fast_message_id(plan_prefix: bytes, customer_id: str) -> str:
    """`str(message_id(plan_id, customer_id))` without building UUID objects;
    `plan_prefix` is `plan_id.encode() + b"/"`."""
    return message_ids(plan_prefix, [customer_id])[0]


def message_ids(plan_prefix: bytes, customer_ids: Iterable[str]) -> list[str]:
    """`fast_message_id` of each customer: the hash of the namespace and plan is taken
    once and copied, each customer adds only its id."""
    copy = _sha1(_NAMESPACE_BYTES + plan_prefix).copy
    digests: list[bytes] = []
    append = digests.append
    for customer_id in customer_ids:
        h = copy()
        h.update(customer_id.encode())
        append(h.digest())
    if not digests:
        return []
    # The digests' first 16 bytes become UUID texts as arrays, a page at a time: the
    # version and variant bits set, hex digits and dashes placed, split on the newlines.
    uuids = np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(-1, 20)[:, :16].copy()
    uuids[:, 6] = (uuids[:, 6] & 0x0F) | 0x50  # version 5
    uuids[:, 8] = (uuids[:, 8] & 0x3F) | 0x80  # the RFC 4122 variant
    digits = np.empty((len(digests), 32), dtype=np.uint8)
    digits[:, 0::2] = _HEX_DIGITS[uuids >> 4]
    digits[:, 1::2] = _HEX_DIGITS[uuids & 0x0F]
    text = np.empty((len(digests), 37), dtype=np.uint8)
    text[:, _DIGIT_AT] = digits
    text[:, _DASHES] = ord("-")
    text[:, 36] = ord("\n")
    return text.tobytes().decode("ascii").split("\n")[:-1]


def plan_values(plan: Plan, shop_name: str | None) -> dict[str, str | None]:
    """The placeholder values every recipient of the plan shares."""
    return {"shop_name": shop_name, "coupon": plan.content.coupon_id}


def reference_message(
    plan: Plan,
    customer_id: str,
    app_language: str | None,
    at: datetime,
    *,
    shop_name: str | None = None,
    customer_name: str | None = None,
) -> OutboundMessage:
    """The message as the schema builds it; what `PlanRenderer` must equal."""
    language = language_for(plan.content, app_language)
    mid = message_id(plan.plan_id, customer_id)
    text = render(
        plan.content.texts[language],
        {**plan_values(plan, shop_name), "customer_name": customer_name},
        language=language,
    )
    return OutboundMessage(
        event_id=mid,
        occurred_at=at,
        message_id=str(mid),
        plan_id=plan.plan_id,
        plan_type=plan.type,
        seller_id=plan.seller_id,
        customer_id=customer_id,
        language=language,
        text=text,
        product_ids=list(plan.content.product_ids),
        coupon_id=plan.content.coupon_id,
        button=plan.content.button,
    )


class PlanRenderer:
    """Encodes one plan's messages as of one instant, with its placeholders filled in:
    the shop's name and the coupon once per language, the customer's name per message
    (only for texts that use it)."""

    def __init__(self, plan: Plan, at: datetime, *, shop_name: str | None = None) -> None:
        self.plan = plan
        self._prefix = plan.plan_id.encode() + b"/"
        content = plan.content
        head = {
            "event_type": "OutboundMessage",
            "schema_version": 1,
            "occurred_at": at.isoformat(),
        }
        self._head = orjson.dumps(head)[:-1] + b',"event_id":"'
        values = plan_values(plan, shop_name)
        self._texts: dict[str, Personalized] = {}
        # Per language: the fields before the text, and those after it.
        self._around: dict[str, tuple[bytes, bytes]] = {}
        self._tails: dict[str, bytes] = {}  # the whole tail, when the text is the same for all
        for language, text in content.texts.items():
            personalized = Personalized.of(text, values, language=language)
            before = {
                "plan_id": plan.plan_id,
                "plan_type": plan.type,
                "seller_id": plan.seller_id,
                "language": language,
            }
            after = {
                "product_ids": list(content.product_ids),
                "coupon_id": content.coupon_id,
                "button": None if content.button is None else content.button.model_dump(),
            }
            around = (
                b"," + orjson.dumps(before)[1:-1] + b',"text":',
                b"," + orjson.dumps(after)[1:],
            )
            self._texts[language] = personalized
            self._around[language] = around
            if not personalized.addresses_customer:
                self._tails[language] = (
                    around[0] + orjson.dumps(personalized.fill(None)) + around[1]
                )

    @property
    def default(self) -> str:
        return self.plan.content.default_language

    @property
    def has_choice(self) -> bool:
        """More than one language: each customer's profile decides."""
        return len(self.plan.content.texts) > 1

    @property
    def addresses_customers(self) -> bool:
        """Some text uses {customer_name}: each customer's profile gives it."""
        return len(self._tails) < len(self._texts)

    def language(self, app_language: str | None) -> str:
        return language_for(self.plan.content, app_language)

    def render_page(
        self,
        customer_ids: Sequence[str],
        ids: Sequence[str],
        profiles: Mapping[str, tuple[str | None, str | None]],
    ) -> list[tuple[bytes, bytes]]:
        """(key, message) of each customer (`ids`: their `message_ids`), in the language
        and with the name of their profile, (app language, name), if any: `render` for a
        page, with each step it shares looked up once (a fan-out renders a million)."""
        head, tails, dumps = self._head, self._tails, orjson.dumps
        default = self.default
        languages: dict[str | None, str] = {}  # a page holds few app languages
        rendered: list[tuple[bytes, bytes]] = []
        append = rendered.append
        for customer_id, message_text_id in zip(customer_ids, ids, strict=True):
            profile = profiles.get(customer_id)
            if profile is None:
                language, name = default, None
            else:
                app_language, name = profile
                language = languages.get(app_language) or languages.setdefault(
                    app_language, self.language(app_language)
                )
            mid = message_text_id.encode()
            tail = tails.get(language) or self._tail(language, name)
            value = b"".join(
                (head, mid, b'","message_id":"', mid, b'","customer_id":', dumps(customer_id), tail)
            )
            append((customer_id.encode(), value))
        return rendered

    def _tail(self, language: str, customer_name: str | None) -> bytes:
        """The fields from the text on, for a text that names the customer."""
        before, after = self._around[language]
        return before + orjson.dumps(self._texts[language].fill(customer_name)) + after

    def render(
        self, customer_id: str, message_id: str, language: str, customer_name: str | None = None
    ) -> bytes:
        """The message to this customer in `language` (one of `language()`'s answers);
        `message_id` is `fast_message_id` of the plan and customer."""
        mid = message_id.encode()
        tail = self._tails.get(language) or self._tail(language, customer_name)
        return b"".join(
            (
                self._head,
                mid,
                b'","message_id":"',
                mid,
                b'","customer_id":',
                orjson.dumps(customer_id),
                tail,
            )
        )
