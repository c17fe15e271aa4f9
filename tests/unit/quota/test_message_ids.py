"""The page check of (customer_id, message_id) refuses exactly what check_ids refuses."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.quota.port import check_ids, check_message_ids

pytestmark = pytest.mark.unit

# Whitespace of every kind at either end, lengths around the 128-character limit.
_ids = st.one_of(
    st.text(max_size=3),
    st.text(alphabet=st.sampled_from(" \t\n\x0b\x1c\x85\xa0\u2028\u3000\x00ab-é"), max_size=6),
    st.integers(126, 130).map(lambda n: "x" * n),
)


def _refused(check: object, *args: object, **kwargs: object) -> bool:
    try:
        check(*args, **kwargs)  # type: ignore[operator]
    except ValueError:
        return True
    return False


@given(customer_id=_ids, message_id=_ids)
def test_the_page_check_agrees_with_check_ids(customer_id: str, message_id: str) -> None:
    one = _refused(check_ids, customer_id=customer_id, message_id=message_id)
    page = _refused(check_message_ids, [("cust-ok", "msg-ok"), (customer_id, message_id)])
    assert page == one


def test_the_page_check_names_the_bad_field() -> None:
    with pytest.raises(ValueError, match="message_id"):
        check_message_ids([("cust-1", "m1"), ("cust-2", " m2")])
    with pytest.raises(ValueError, match="customer_id"):
        check_message_ids([("x" * 129, "m1")])
    with pytest.raises(ValueError, match="customer_id"):
        check_message_ids([("c1", "m1"), ("", "m2")])


@given(pages=st.lists(st.tuples(_ids, _ids), max_size=5))
def test_a_page_is_refused_exactly_when_one_of_its_pairs_is(
    pages: list[tuple[str, str]],
) -> None:
    one_by_one = any(_refused(check_ids, customer_id=c, message_id=m) for c, m in pages)
    assert _refused(check_message_ids, pages) == one_by_one
