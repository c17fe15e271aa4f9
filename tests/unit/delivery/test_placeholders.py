"""Placeholders: which a text may use, and how delivery fills them per recipient with a
fallback per language; never exploitable, never leaving a raw placeholder."""

from __future__ import annotations

import string

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from schemas.outbound import TEXT_MAX_LENGTH
from schemas.placeholders import PLACEHOLDERS, placeholders_in, unknown_placeholders
from services.delivery.domain.placeholders import FALLBACKS, Personalized, fallback, render
from services.outreach.domain.templates import CATALOGUE_LANGUAGES

pytestmark = pytest.mark.unit


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
        ("{{{customer_name}}}", "{Anna}"),
        ("unbalanced { and } stay", "unbalanced { and } stay"),
        ("Hi {customer_name", "Hi {customer_name"),
    ],
)
def test_render_leaves_anything_but_known_placeholders_as_text(text: str, rendered: str) -> None:
    assert render(text, {**VALUES, "0": "zero", "x": "ex"}) == rendered


@pytest.mark.parametrize(
    ("text", "rendered"),
    [
        ("{{customer_name}}", "Anna"),
        ("Use {{coupon}} at {{shop_name}}", "Use SAVE10 at Bloom"),
        ("{{{{shop_name}}}}", "{Bloom}"),
    ],
)
def test_a_known_placeholder_in_doubled_braces_is_filled_not_shown(
    text: str, rendered: str
) -> None:
    # "{{customer_name}}" would otherwise reach the customer as "{customer_name}".
    assert render(text, VALUES) == rendered
    assert unknown_placeholders(text) == []
    assert placeholders_in(text)


@pytest.mark.parametrize(
    ("value", "inserted"),
    [
        ("{shop_name}", "shop_name"),
        ("{coupon}", "coupon"),
        ("{{x}}", "x"),
        ("{0}", "0"),
        ("{customer_name.__class__}", "customer_name.__class__"),
        ("%s %(x)s", "%s %(x)s"),
        ("}{", "valued customer"),
    ],
)
def test_values_are_inserted_literally_without_braces_and_never_expanded_again(
    value: str, inserted: str
) -> None:
    rendered = render(
        "Hi {customer_name} at {shop_name}", {"customer_name": value, "shop_name": "S"}
    )
    assert rendered == f"Hi {inserted} at S"


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
        {
            name: st.text(
                alphabet=string.printable.replace("{", "").replace("}", ""), min_size=1, max_size=20
            )
            for name in PLACEHOLDERS
        }
    ),
)
def test_valid_text_renders_as_str_format_would(pieces: list[str], values: dict[str, str]) -> None:
    text = "".join(pieces)
    assert unknown_placeholders(text) == []
    # Where this differs from str.format on purpose: a doubled known placeholder is filled
    # (test_a_known_placeholder_in_doubled_braces_is_filled_not_shown), and values lose
    # their braces (so the values here have none).
    assume(not any(f"{{{{{name}}}}}" in text for name in PLACEHOLDERS))
    values = {name: value.strip() or "v" for name, value in values.items()}
    # At most 15 pieces of 20 characters: never long enough to be cut.
    assert render(text, values) == text.format(**values)


@given(st.text(alphabet=st.characters(blacklist_characters="{}"), max_size=TEXT_MAX_LENGTH))
def test_text_without_braces_renders_unchanged(text: str) -> None:
    assert render(text, VALUES) == text
    assert unknown_placeholders(text) == []


# --- what a customer receives ---------------------------------------------------------

_RAW = [f"{{{name}}}" for name in sorted(PLACEHOLDERS)]
_ANY_VALUE = st.one_of(st.none(), st.text(max_size=40), st.sampled_from(_RAW))


@given(
    pieces=st.lists(
        st.one_of(st.text(max_size=20), st.sampled_from([*_RAW, "{{", "}}", "{", "}"])),
        max_size=20,
    ),
    values=st.fixed_dictionaries({name: _ANY_VALUE for name in PLACEHOLDERS}),
    language=st.sampled_from([*CATALOGUE_LANGUAGES, "zh-SG", "xx"]),
)
def test_no_rendered_text_ever_contains_a_raw_placeholder(
    pieces: list[str], values: dict[str, str | None], language: str
) -> None:
    text = "".join(pieces)
    rendered = render(text, values, language=language)
    for raw in _RAW:
        assert raw not in rendered


@pytest.mark.parametrize(
    ("language", "customer", "shop", "coupon"),
    [
        ("en", "valued customer", "our shop", "a special coupon"),
        ("th", "คุณลูกค้า", "ร้านของเรา", "คูปองพิเศษ"),
        ("id", "Kak", "toko kami", "kupon spesial"),
        ("ms", "pelanggan", "kedai kami", "kupon istimewa"),
        ("vi", "bạn", "cửa hàng chúng tôi", "mã giảm giá đặc biệt"),
        ("fil", "ka-suki", "aming shop", "isang espesyal na coupon"),
        ("zh", "亲爱的顾客", "本店", "专属优惠券"),
        ("zh-SG", "亲爱的顾客", "本店", "专属优惠券"),
        ("de", "valued customer", "our shop", "a special coupon"),
    ],
)
def test_each_language_has_its_fallbacks_and_english_is_the_default(
    language: str, customer: str, shop: str, coupon: str
) -> None:
    text = "{customer_name}|{shop_name}|{coupon}"
    unknown: dict[str, str | None] = {"customer_name": None, "shop_name": None, "coupon": None}
    assert render(text, unknown, language=language) == f"{customer}|{shop}|{coupon}"


def test_a_text_is_split_once_and_filled_per_customer() -> None:
    personalized = Personalized.of(
        "Hi {customer_name}, {shop_name} gives you {coupon}. Bye {customer_name}!",
        {"shop_name": "Bloom", "coupon": None},
        language="en",
    )
    assert personalized.addresses_customer
    assert personalized.fill("Anna") == "Hi Anna, Bloom gives you a special coupon. Bye Anna!"
    assert personalized.fill(None) == (
        "Hi valued customer, Bloom gives you a special coupon. Bye valued customer!"
    )
    plain = Personalized.of("{{shop}} at {shop_name}", {"shop_name": "Bloom"}, language="en")
    assert not plain.addresses_customer
    assert plain.fill("Anna") == "{shop} at Bloom"
