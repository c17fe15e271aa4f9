"""The pre-built template catalogue and safe placeholder rendering (SPEC section 5).

The catalogue is data (templates.toml beside this module), parsed and validated once at
import: a bad edit fails at start, naming the template and field, instead of sending a
broken message.

Placeholders are replaced by a small tokenizer, never by `str.format`, `eval` or attribute
access: seller-written text is untrusted, and `{customer_name.__class__}` or `{0}` must
stay harmless text. The syntax is otherwise the same as `str.format`'s: `{{` and `}}` are
literal braces.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from itertools import chain
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

from schemas.engagement import ClickTarget
from schemas.outbound import TEXT_MAX_LENGTH
from schemas.plans import TriggerType

CATALOGUE_FILE = Path(__file__).with_name("templates.toml")

# English plus the local languages of each default market, the market's primary language
# first (SG and the English-speaking markets lead with English).
MARKET_LANGUAGES: dict[str, tuple[str, ...]] = {
    "TH": ("th", "en"),
    "ID": ("id", "en"),
    "MY": ("ms", "en", "zh"),
    "VN": ("vi", "en"),
    "PH": ("fil", "en"),
    "SG": ("en", "zh", "ms"),
    "US": ("en",),
    "GB": ("en",),
}
# Markets added by policy but not listed above get English until their languages are written.
FALLBACK_MARKET_LANGUAGES = ("en",)
CATALOGUE_LANGUAGES: tuple[str, ...] = tuple(
    dict.fromkeys(chain(["en"], *MARKET_LANGUAGES.values()))
)

PLACEHOLDERS = frozenset({"customer_name", "shop_name", "coupon"})

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

# Left to right: an escaped brace, a braced field, an opening brace that is never closed
# (reported up to the next space or brace), a lone closing brace.
_TOKEN = re.compile(r"\{\{|\}\}|\{[^{}]*\}|\{[^{}\s]*|\}")
_ELLIPSIS = "…"

TemplateKind = Literal["announcement", "promotion", "reminder", "relationship"]


def _placeholder_name(token: str) -> str | None:
    """The known placeholder a token names, or None."""
    if len(token) > 2 and token[0] == "{" and token[-1] == "}" and token[1:-1] in PLACEHOLDERS:
        return token[1:-1]
    return None


def _is_escaped_brace(token: str) -> bool:
    return token in ("{{", "}}")


def placeholders_in(text: str) -> set[str]:
    """The known placeholders a text uses, e.g. {"customer_name", "shop_name"}."""
    names = (_placeholder_name(match.group()) for match in _TOKEN.finditer(text))
    return {name for name in names if name is not None}


def unknown_placeholders(text: str) -> list[str]:
    """Every braced fragment that is neither a known placeholder nor an escaped brace, in
    order: `{0}`, `{}`, `{x!r}`, `{customer_name.__class__}`, an unclosed `{name` or a
    lone `}`. Empty means the text renders exactly as written."""
    return [
        token
        for token in (match.group() for match in _TOKEN.finditer(text))
        if not _is_escaped_brace(token) and _placeholder_name(token) is None
    ]


def fallback(placeholder: str, language: str = "en") -> str:
    """The neutral word used for a placeholder without a value, in that language (its
    primary subtag: "zh-SG" uses "zh"), else in English."""
    words = FALLBACKS[placeholder]
    return words.get(language.split("-", 1)[0], words["en"])


def render(text: str, values: Mapping[str, str], *, language: str = "en") -> str:
    """The text with each known placeholder replaced by its value, inserted literally.

    A missing or blank value becomes the placeholder's `fallback` in `language`. Values
    are never expanded again, so a customer named "{shop_name}" stays "{shop_name}".
    Unknown placeholders and stray braces (which validation refuses) stay as written, so
    rendering never fails. A result longer than 500 characters is cut to 499 and ends
    with "…".
    """

    def substitute(match: re.Match[str]) -> str:
        token = match.group()
        if _is_escaped_brace(token):
            return token[0]
        name = _placeholder_name(token)
        if name is None:
            return token
        value = values.get(name)
        if value is None or not value.strip():
            return fallback(name, language)
        return value.strip()

    rendered = _TOKEN.sub(substitute, text)
    if len(rendered) <= TEXT_MAX_LENGTH:
        return rendered
    return rendered[: TEXT_MAX_LENGTH - len(_ELLIPSIS)] + _ELLIPSIS


class Template(BaseModel):
    """A pre-built message: its texts per language and what it suits."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    template_id: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)
    name: str = Field(min_length=1, max_length=100)
    description: str = Field(min_length=1, max_length=300)
    kind: TemplateKind
    languages: tuple[str, ...] = Field(min_length=1)
    texts: dict[str, str]
    suggested_button: ClickTarget
    # The automated-plan trigger the template is written for, if any.
    suggested_trigger: TriggerType | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def placeholders(self) -> tuple[str, ...]:
        """The placeholders any of its texts uses, sorted."""
        return tuple(sorted(set().union(*(placeholders_in(t) for t in self.texts.values()))))

    @model_validator(mode="after")
    def _texts_are_sendable(self) -> Self:
        if len(set(self.languages)) != len(self.languages) or set(self.languages) != set(
            self.texts
        ):
            raise ValueError(
                f"template {self.template_id}: languages {list(self.languages)} must list "
                f"each language of its texts {list(self.texts)} once"
            )
        for language, text in self.texts.items():
            where = f"template {self.template_id}, text {language}"
            if not text.strip() or len(text) > TEXT_MAX_LENGTH:
                raise ValueError(f"{where}: must have 1 to {TEXT_MAX_LENGTH} characters")
            if unknown := unknown_placeholders(text):
                raise ValueError(f"{where}: unknown placeholders {unknown}")
        return self

    def in_languages(self, languages: tuple[str, ...]) -> Template:
        """The template with only those of `languages` it has, in that order."""
        kept = tuple(language for language in languages if language in self.texts)
        return self.model_copy(
            update={
                "languages": kept,
                "texts": {language: self.texts[language] for language in kept},
            }
        )


def parse_catalogue(source: str) -> tuple[Template, ...]:
    """Templates from TOML text; raises ValueError naming the first problem."""
    templates = tuple(
        Template.model_validate({**entry, "languages": tuple(entry.get("texts", {}))})
        for entry in tomllib.loads(source).get("template", [])
    )
    seen: set[str] = set()
    for template in templates:
        if template.template_id in seen:
            raise ValueError(f"template {template.template_id} is defined twice")
        seen.add(template.template_id)
        if missing := [code for code in CATALOGUE_LANGUAGES if code not in template.texts]:
            raise ValueError(f"template {template.template_id} has no text in {missing}")
    return templates


_CATALOGUE = parse_catalogue(CATALOGUE_FILE.read_text(encoding="utf-8"))
_BY_ID = {template.template_id: template for template in _CATALOGUE}


def catalogue() -> tuple[Template, ...]:
    """Every pre-built template, in every catalogue language."""
    return _CATALOGUE


def find(template_id: str) -> Template | None:
    return _BY_ID.get(template_id)


def market_languages(market: str) -> tuple[str, ...]:
    return MARKET_LANGUAGES.get(market, FALLBACK_MARKET_LANGUAGES)


def for_market(market: str) -> tuple[Template, ...]:
    """The catalogue as a seller of that market sees it: only the market's languages."""
    languages = market_languages(market)
    return tuple(
        template.in_languages(languages)
        for template in _CATALOGUE
        if any(language in template.texts for language in languages)
    )
