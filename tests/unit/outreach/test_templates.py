"""The template catalogue and placeholder rendering: complete, within limits, never exploitable."""

from __future__ import annotations

import string
from typing import get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas.markets import MARKET_TIME_ZONES, Market
from schemas.outbound import TEXT_MAX_LENGTH
from services.outreach.domain.templates import (
    CATALOGUE_LANGUAGES,
    FALLBACKS,
    MARKET_LANGUAGES,
    PLACEHOLDERS,
    Template,
    catalogue,
    fallback,
    find,
    for_market,
    parse_catalogue,
    placeholders_in,
    render,
    unknown_placeholders,
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
            'kind = "relationship"',
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
        (_toml().replace('"relationship"', '"spam"'), "kind"),
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
        "kind": "promotion",
        "suggested_button": "shop_home",
        "texts": {"en": "Hi", "th": "สวัสดี"},
    }
    Template.model_validate({**fields, "languages": ("en", "th")})
    for languages in [("en",), ("en", "th", "th"), ("en", "th", "vi")]:
        with pytest.raises(ValidationError, match="must list each language"):
            Template.model_validate({**fields, "languages": languages})


# --- placeholders -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "known", "unknown"),
    [
        ("Hi {customer_name} from {shop_name}", {"customer_name", "shop_name"}, []),
        ("Use {coupon} twice: {coupon}", {"coupon"}, []),
        ("No placeholders at all.", set(), []),
        ("{{literal}} braces", set(), []),
        ("{{{customer_name}}}", {"customer_name"}, []),
        ("{customer_name.__class__}", set(), ["{customer_name.__class__}"]),
        ("{customer_name.__class__.__mro__}", set(), ["{customer_name.__class__.__mro__}"]),
        ("{customer_name[0]}", set(), ["{customer_name[0]}"]),
        ("{0}", set(), ["{0}"]),
        ("{}", set(), ["{}"]),
        ("{x!r}", set(), ["{x!r}"]),
        ("{customer_name!r}", set(), ["{customer_name!r}"]),
        ("{customer_name:>300}", set(), ["{customer_name:>300}"]),
        ("{ customer_name }", set(), ["{ customer_name }"]),
        ("{Customer_Name}", set(), ["{Customer_Name}"]),
        ("{product_name}", set(), ["{product_name}"]),
        ("Hi {customer_name", set(), ["{customer_name"]),
        ("Hi customer_name}", set(), ["}"]),
        ("{customer_name}}", {"customer_name"}, ["}"]),
        ("{{customer_name}", set(), ["}"]),
        ("a { b", set(), ["{"]),
        ("{shop_name} {0} {coupon} {", {"shop_name", "coupon"}, ["{0}", "{"]),
    ],
)
def test_placeholders_known_and_unknown(text: str, known: set[str], unknown: list[str]) -> None:
    assert placeholders_in(text) == known
    assert unknown_placeholders(text) == unknown


# --- rendering --------------------------------------------------------------------------

VALUES = {"customer_name": "Anna", "shop_name": "Bloom", "coupon": "SAVE10"}


@pytest.mark.parametrize(
    ("text", "values", "language", "rendered"),
    [
        ("Hi {customer_name}, welcome to {shop_name}!", VALUES, "en", "Hi Anna, welcome to Bloom!"),
        ("{coupon} and {coupon}", VALUES, "en", "SAVE10 and SAVE10"),
        ("Hi {customer_name}", {}, "en", "Hi valued customer"),
        ("Hi {customer_name}", {"customer_name": "   "}, "en", "Hi valued customer"),
        ("Hi {customer_name}", {"customer_name": "  Anna "}, "en", "Hi Anna"),
        ("สวัสดีค่ะ {customer_name}", {}, "th", "สวัสดีค่ะ คุณลูกค้า"),
        ("{customer_name}，您好", {}, "zh-SG", "亲爱的顾客，您好"),
        ("Halo {customer_name} dari {shop_name}", {}, "id", "Halo Kak dari toko kami"),
        ("Hi {customer_name}", {}, "xx", "Hi valued customer"),
        ("Code: {coupon}", {}, "vi", "Code: mã giảm giá đặc biệt"),
        ("Extra values are ignored", {"other": "x"}, "en", "Extra values are ignored"),
    ],
)
def test_render_substitutes_values_and_falls_back_per_language(
    text: str, values: dict[str, str], language: str, rendered: str
) -> None:
    assert render(text, values, language=language) == rendered


@pytest.mark.parametrize(
    ("text", "rendered"),
    [
        ("{customer_name.__class__.__mro__}", "{customer_name.__class__.__mro__}"),
        ("{customer_name.__init__.__globals__}", "{customer_name.__init__.__globals__}"),
        ("{0}{1}", "{0}{1}"),
        ("{}", "{}"),
        ("{x!r}", "{x!r}"),
        ("{customer_name:>300}", "{customer_name:>300}"),
        ("{{literal}}", "{literal}"),
        ("{{customer_name}}", "{customer_name}"),
        ("{{{customer_name}}}", "{Anna}"),
        ("unbalanced { and } stay", "unbalanced { and } stay"),
        ("Hi {customer_name", "Hi {customer_name"),
    ],
)
def test_render_leaves_anything_but_known_placeholders_as_text(text: str, rendered: str) -> None:
    assert render(text, {**VALUES, "0": "zero", "x": "ex"}) == rendered


@pytest.mark.parametrize(
    "value",
    ["{shop_name}", "{coupon}", "{{x}}", "{0}", "{customer_name.__class__}", "%s %(x)s", "}{"],
)
def test_values_are_inserted_literally_and_never_expanded_again(value: str) -> None:
    rendered = render(
        "Hi {customer_name} at {shop_name}", {"customer_name": value, "shop_name": "S"}
    )
    assert rendered == f"Hi {value} at S"


@pytest.mark.parametrize(
    ("text", "values", "length", "ends_with"),
    [
        ("x" * 500, {}, 500, "x"),
        ("x" * 490 + "{shop_name}", {"shop_name": "abcdefghij"}, 500, "j"),
        ("x" * 490 + "{shop_name}", {"shop_name": "abcdefghijk"}, 500, "…"),
        ("{customer_name}", {"customer_name": "N" * 10_000}, 500, "…"),
    ],
)
def test_render_cuts_at_500_characters_marking_the_cut(
    text: str, values: dict[str, str], length: int, ends_with: str
) -> None:
    rendered = render(text, values)
    assert len(rendered) == length
    assert rendered.endswith(ends_with)


@pytest.mark.parametrize("placeholder", sorted(PLACEHOLDERS))
@pytest.mark.parametrize("language", CATALOGUE_LANGUAGES)
def test_every_placeholder_has_a_fallback_in_every_catalogue_language(
    placeholder: str, language: str
) -> None:
    assert FALLBACKS[placeholder][language].strip()
    assert unknown_placeholders(fallback(placeholder, language)) == []


_VALUE_NAMES = st.sampled_from([*sorted(PLACEHOLDERS), "0", "x", "__class__"])


@given(
    text=st.text(max_size=700),
    values=st.dictionaries(_VALUE_NAMES, st.text(max_size=700)),
    language=st.sampled_from([*CATALOGUE_LANGUAGES, "zh-SG", "xx", ""]),
)
def test_render_never_raises_and_never_exceeds_500_characters(
    text: str, values: dict[str, str], language: str
) -> None:
    assert len(render(text, values, language=language)) <= TEXT_MAX_LENGTH
    assert isinstance(unknown_placeholders(text), list)
    assert placeholders_in(text) <= PLACEHOLDERS


# Text built only from what validation accepts: plain text, escaped braces and known
# placeholders. For such text `str.format` is a trusted reference for the result.
_PLAIN = st.text(alphabet=st.characters(blacklist_characters="{}"), max_size=20)
_PIECES = st.one_of(
    _PLAIN, st.sampled_from(["{{", "}}", *(f"{{{name}}}" for name in sorted(PLACEHOLDERS))])
)


@given(
    pieces=st.lists(_PIECES, max_size=15),
    values=st.fixed_dictionaries(
        {name: st.text(alphabet=string.printable, min_size=1, max_size=20) for name in PLACEHOLDERS}
    ),
)
def test_valid_text_renders_as_str_format_would(pieces: list[str], values: dict[str, str]) -> None:
    text = "".join(pieces)
    assert unknown_placeholders(text) == []
    values = {name: value.strip() or "v" for name, value in values.items()}
    # At most 15 pieces of 20 characters: never long enough to be cut.
    assert render(text, values) == text.format(**values)


@given(st.text(alphabet=st.characters(blacklist_characters="{}"), max_size=TEXT_MAX_LENGTH))
def test_text_without_braces_renders_unchanged(text: str) -> None:
    assert render(text, VALUES) == text
    assert unknown_placeholders(text) == []
