"""The pre-built template catalogue (SPEC section 5).

The catalogue is data (templates.toml beside this module), parsed and validated once at
import: a bad edit fails at start, naming the template and field, instead of sending a
broken message. Placeholders are spelled as schemas/placeholders.py says; delivery fills
them in per recipient.
"""

from __future__ import annotations

import tomllib
from itertools import chain
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

from schemas.engagement import ClickTarget
from schemas.outbound import TEXT_MAX_LENGTH
from schemas.placeholders import placeholders_in, unknown_placeholders
from schemas.plans import Trigger, TriggerType

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

TemplateCategory = Literal["announcement", "promotion", "reminder", "relationship"]
TemplateKind = Literal["one_time", "automated"]


class Template(BaseModel):
    """A pre-built message: its texts per language and what it suits."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    template_id: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)
    name: str = Field(min_length=1, max_length=100)
    description: str = Field(min_length=1, max_length=300)
    category: TemplateCategory
    languages: tuple[str, ...] = Field(min_length=1)
    texts: dict[str, str]
    suggested_button: ClickTarget
    # The automated-plan trigger the template is written for, if any.
    suggested_trigger: TriggerType | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def kind(self) -> TemplateKind:
        """The plan type the template is written for: automated when it has a trigger."""
        return "one_time" if self.suggested_trigger is None else "automated"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def trigger(self) -> Trigger | None:
        """An automated template's trigger with its SPEC default delay: what a plan made
        from it without a trigger of its own gets."""
        if self.suggested_trigger is None:
            return None
        return Trigger(type=self.suggested_trigger).with_defaults()

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
