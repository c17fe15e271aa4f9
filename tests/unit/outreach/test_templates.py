"""The template catalogue: complete, within limits, reading well with or without values.

The placeholder rules themselves are tested in tests/unit/delivery/test_placeholders.py."""

from __future__ import annotations

from typing import get_args

import pytest
from pydantic import ValidationError

from schemas.markets import MARKET_TIME_ZONES, Market
from schemas.outbound import TEXT_MAX_LENGTH
from schemas.placeholders import PLACEHOLDERS, placeholders_in, unknown_placeholders
from services.delivery.domain.placeholders import fallback, render
from services.outreach.domain.templates import (
    CATALOGUE_LANGUAGES,
    MARKET_LANGUAGES,
    Template,
    catalogue,
    find,
    for_market,
    parse_catalogue,
)

pytestmark = pytest.mark.unit

REQUIRED_TEMPLATES = {"new_arrivals", "restock", "flash_sale", "coupon", "thank_you", "win_back"}
LOCAL_LANGUAGES = {"th", "id", "ms", "vi", "fil", "zh"}
ALL_TEXTS = [
    pytest.param(template, language, id=f"{template.template_id}-{language}")
    for template in catalogue()
    for language in template.languages
]
LONG_VALUES = {name: "W" * 600 for name in PLACEHOLDERS}


# --- the catalogue --------------------------------------------------------------------


def test_the_catalogue_has_the_required_templates_once_each() -> None:
    ids = [template.template_id for template in catalogue()]
    assert set(ids) >= REQUIRED_TEMPLATES
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("template", catalogue(), ids=lambda t: t.template_id)
def test_every_template_has_english_and_every_local_language(template: Template) -> None:
    assert {"en", *LOCAL_LANGUAGES} <= set(template.languages)
    assert set(template.languages) == set(template.texts) == set(CATALOGUE_LANGUAGES)


@pytest.mark.parametrize(("template", "language"), ALL_TEXTS)
def test_every_text_fits_and_uses_only_known_placeholders(
    template: Template, language: str
) -> None:
    text = template.texts[language]
    assert text.strip()
    assert len(text) <= TEXT_MAX_LENGTH
    assert unknown_placeholders(text) == []
    assert placeholders_in(text) <= set(template.placeholders)
    # Names and shop names can be long: a rendered text still fits one message.
    assert len(render(text, LONG_VALUES, language=language)) <= TEXT_MAX_LENGTH


@pytest.mark.parametrize(("template", "language"), ALL_TEXTS)
def test_every_text_reads_without_any_value(template: Template, language: str) -> None:
    rendered = render(template.texts[language], {}, language=language)
    assert "{" not in rendered
    assert "}" not in rendered
    for name in template.placeholders:
        assert fallback(name, language) in rendered


@pytest.mark.parametrize("template", catalogue(), ids=lambda t: t.template_id)
def test_every_template_addresses_the_customer_and_names_the_shop(template: Template) -> None:
    for text in template.texts.values():
        assert {"customer_name", "shop_name"} <= placeholders_in(text)


def test_the_coupon_template_uses_the_coupon_and_suggests_its_button() -> None:
    coupon = find("coupon")
    assert coupon is not None
    assert coupon.placeholders == ("coupon", "customer_name", "shop_name")
    assert coupon.suggested_button == "coupon"


@pytest.mark.parametrize(
    ("template_id", "trigger"),
    [
        ("thank_you", "post_purchase"),
        ("win_back", "win_back"),
        ("cart_reminder", "cart_abandoned"),
        ("welcome_follower", "new_follower"),
        ("flash_sale", None),
    ],
)
def test_templates_for_automated_plans_suggest_their_trigger(
    template_id: str, trigger: str | None
) -> None:
    template = find(template_id)
    assert template is not None
    assert template.suggested_trigger == trigger


def test_find_answers_none_for_an_unknown_id() -> None:
    assert find("no_such_template") is None
    thank_you = find("thank_you")
    assert thank_you is not None
    assert thank_you.template_id == "thank_you"


def test_templates_are_frozen() -> None:
    template = catalogue()[0]
    with pytest.raises(ValidationError):
        template.name = "changed"  # type: ignore[misc]


# --- markets ----------------------------------------------------------------------------


def test_every_default_market_has_languages_and_english_among_them() -> None:
    assert set(MARKET_LANGUAGES) == set(get_args(Market)) == set(MARKET_TIME_ZONES)
    for languages in MARKET_LANGUAGES.values():
        assert "en" in languages
        assert len(set(languages)) == len(languages)
    assert set(CATALOGUE_LANGUAGES) == {"en", *LOCAL_LANGUAGES}


@pytest.mark.parametrize(
    ("market", "languages"),
    [
        ("TH", ("th", "en")),
        ("ID", ("id", "en")),
        ("MY", ("ms", "en", "zh")),
        ("VN", ("vi", "en")),
        ("PH", ("fil", "en")),
        ("SG", ("en", "zh", "ms")),
        ("US", ("en",)),
        ("GB", ("en",)),
        ("BR", ("en",)),  # a market added by policy later: English until translated
    ],
)
def test_for_market_gives_each_template_in_the_market_languages(
    market: str, languages: tuple[str, ...]
) -> None:
    templates = for_market(market)
    assert [t.template_id for t in templates] == [t.template_id for t in catalogue()]
    for template in templates:
        assert template.languages == languages
        assert tuple(template.texts) == languages
        full = find(template.template_id)
        assert full is not None
        assert all(template.texts[language] == full.texts[language] for language in languages)


def test_for_market_leaves_the_catalogue_whole() -> None:
    for_market("TH")
    assert all(set(t.languages) == set(CATALOGUE_LANGUAGES) for t in catalogue())


# --- the catalogue file is checked when loaded -----------------------------------------


def _toml(template_id: str = "hello", **texts: str) -> str:
    texts = texts or {code: "Hi {customer_name}" for code in CATALOGUE_LANGUAGES}
    lines = [f'{code} = "{text}"' for code, text in texts.items()]
    return "\n".join(
        [
            "[[template]]",
            f'template_id = "{template_id}"',
            'name = "Hello"',
            'description = "Says hello."',
            'category = "relationship"',
            'suggested_button = "shop_home"',
            "[template.texts]",
            *lines,
        ]
    )


def test_a_well_formed_catalogue_file_parses() -> None:
    (template,) = parse_catalogue(_toml())
    assert template.template_id == "hello"
    assert template.languages == tuple(CATALOGUE_LANGUAGES)
    assert template.placeholders == ("customer_name",)


@pytest.mark.parametrize(
    ("source", "complaint"),
    [
        (_toml() + "\n" + _toml(), "defined twice"),
        (_toml(en="Hi {customer_name}", th="สวัสดี"), "has no text in"),
        (_toml(**dict.fromkeys(CATALOGUE_LANGUAGES, "Hi {name}")), "unknown placeholders"),
        (_toml(**dict.fromkeys(CATALOGUE_LANGUAGES, "x" * 501)), "1 to 500 characters"),
        (_toml(**dict.fromkeys(CATALOGUE_LANGUAGES, "  ")), "1 to 500 characters"),
        (_toml("Bad Id"), "template_id"),
        (_toml().replace('"shop_home"', '"cart"'), "suggested_button"),
        (_toml().replace('"relationship"', '"spam"'), "category"),
    ],
)
def test_a_bad_catalogue_file_is_refused_naming_the_problem(source: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        parse_catalogue(source)


def test_a_template_lists_each_language_of_its_texts_once() -> None:
    fields = {
        "template_id": "t",
        "name": "T",
        "description": "A template.",
        "category": "promotion",
        "suggested_button": "shop_home",
        "texts": {"en": "Hi", "th": "สวัสดี"},
    }
    Template.model_validate({**fields, "languages": ("en", "th")})
    for languages in [("en",), ("en", "th", "th"), ("en", "th", "vi")]:
        with pytest.raises(ValidationError, match="must list each language"):
            Template.model_validate({**fields, "languages": languages})
