"""Filling a text's placeholders for one recipient (SPEC section 5): the rule delivery
applies at fan-out, so no customer ever receives a raw `{customer_name}`, `{shop_name}`
or `{coupon}`.

A value the system does not hold (no name in the customer's profile, no
ShopProfileUpdated for the shop, no coupon on the plan) becomes a neutral word in the
message's language. Values are inserted as text and never expanded again; their braces
are dropped, so a customer named "{shop_name}" cannot bring a placeholder back. A text is
split once per plan and language (`Personalized`) and filled per recipient, because the
fan-out renders a million of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from schemas.outbound import TEXT_MAX_LENGTH
from schemas.placeholders import PLACEHOLDERS, TOKEN, is_escaped_brace, placeholder_name

# What a placeholder becomes when its value is missing or blank, per language: neutral
# words that fit where the catalogue puts the placeholder ("Hi {customer_name}," →
# "Hi valued customer,"). A language not listed uses English.
FALLBACKS: dict[str, dict[str, str]] = {
    "customer_name": {
        "en": "valued customer",
        "th": "คุณลูกค้า",
        "id": "Kak",
        "ms": "pelanggan",
        "vi": "bạn",
        "fil": "ka-suki",
        "zh": "亲爱的顾客",
    },
    "shop_name": {
        "en": "our shop",
        "th": "ร้านของเรา",
        "id": "toko kami",
        "ms": "kedai kami",
        "vi": "cửa hàng chúng tôi",
        "fil": "aming shop",
        "zh": "本店",
    },
    "coupon": {
        "en": "a special coupon",
        "th": "คูปองพิเศษ",
        "id": "kupon spesial",
        "ms": "kupon istimewa",
        "vi": "mã giảm giá đặc biệt",
        "fil": "isang espesyal na coupon",
        "zh": "专属优惠券",
    },
}
_ELLIPSIS = "…"
_NO_BRACES = str.maketrans("", "", "{}")


def fallback(placeholder: str, language: str = "en") -> str:
    """The neutral word used for a placeholder without a value, in that language (its
    primary subtag: "zh-SG" uses "zh"), else in English."""
    words = FALLBACKS[placeholder]
    return words.get(language.split("-", 1)[0], words["en"])


def _value_or_fallback(placeholder: str, value: str | None, language: str) -> str:
    if value is None:
        return fallback(placeholder, language)
    if "{" in value or "}" in value:
        value = value.translate(_NO_BRACES)
    return value.strip() or fallback(placeholder, language)


_RAW = {name: f"{{{name}}}" for name in sorted(PLACEHOLDERS)}


@dataclass(frozen=True)
class Personalized:
    """A text with the plan-wide placeholders filled in, split around `{customer_name}`:
    `fill(name)` is then a join."""

    parts: tuple[str, ...]  # literal text, with the customer's name between each two
    language: str
    plan_values: Mapping[str, str]  # shop_name and coupon as filled in
    # Braces left in the literal parts (unknown placeholders, refused when saved): only
    # they could pair up around a value into a raw placeholder.
    braced: bool

    @classmethod
    def of(cls, text: str, values: Mapping[str, str | None], *, language: str) -> Personalized:
        """`values` holds the shop_name and coupon (a customer_name there is ignored:
        it is `fill`'s)."""
        plan_values = {
            name: _value_or_fallback(name, values.get(name), language)
            for name in PLACEHOLDERS
            if name != "customer_name"
        }
        parts: list[str] = []
        current: list[str] = []
        position = 0
        for match in TOKEN.finditer(text):
            current.append(text[position : match.start()])
            position = match.end()
            token = match.group()
            name = placeholder_name(token)
            if name == "customer_name":
                parts.append("".join(current))
                current = []
            elif name is not None:
                current.append(plan_values[name])
            elif is_escaped_brace(token):
                current.append(token[0])
            else:
                current.append(token)  # unknown: refused when saved, left as written
        current.append(text[position:])
        parts.append("".join(current))
        braced = any("{" in part or "}" in part for part in parts)
        return cls(tuple(parts), language, plan_values, braced)

    @property
    def addresses_customer(self) -> bool:
        return len(self.parts) > 1

    def fill(self, customer_name: str | None) -> str:
        """The text as this customer receives it: never with a raw placeholder, at most
        500 characters (a longer text is cut to 499 and ends with "…")."""
        if not self.addresses_customer:
            name, text = "", self.parts[0]
        else:
            name = _value_or_fallback("customer_name", customer_name, self.language)
            text = name.join(self.parts)
        if self.braced:
            text = self._without_raw_placeholders(text, name)
        if len(text) <= TEXT_MAX_LENGTH:
            return text
        return text[: TEXT_MAX_LENGTH - len(_ELLIPSIS)] + _ELLIPSIS

    def _without_raw_placeholders(self, text: str, customer_name: str) -> str:
        # Only stray braces around a placeholder's name (refused when saved, e.g.
        # "{{coupon}" + "}") get here. Each replacement removes two braces and adds none,
        # so this ends.
        values = {**self.plan_values, "customer_name": customer_name}
        while any(raw in text for raw in _RAW.values()):
            for name, raw in _RAW.items():
                value = values[name] or _value_or_fallback(name, None, self.language)
                text = text.replace(raw, value)
        return text


def render(text: str, values: Mapping[str, str | None], *, language: str = "en") -> str:
    """The text with each known placeholder replaced by its value (or fallback) and
    escaped braces made single; unknown placeholders stay as written, so rendering never
    fails. At most 500 characters."""
    return Personalized.of(text, values, language=language).fill(values.get("customer_name"))
