"""Paging over an ordered list: limit, opaque cursor, and cursors that are not ours."""

from __future__ import annotations

import pytest

from services.outreach.api.paging import PageRequest, cursor_after, page_of
from services.outreach.api.problems import ProblemError

ITEMS = [f"item-{n:02d}" for n in range(7)]


def _key(item: str) -> tuple[str]:
    return (item,)


def test_pages_cover_every_item_once_and_the_last_has_no_cursor() -> None:
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page, cursor = page_of("things", ITEMS, _key, PageRequest(limit=3, cursor=cursor))
        seen += page
        pages += 1
        if cursor is None:
            break
    assert (seen, pages) == (ITEMS, 3)


def test_an_exact_fit_ends_without_a_cursor() -> None:
    assert page_of("things", ITEMS, _key, PageRequest(limit=7, cursor=None)) == (ITEMS, None)


def test_an_item_removed_after_its_page_does_not_shift_the_next() -> None:
    first, cursor = page_of("things", ITEMS, _key, PageRequest(limit=3, cursor=None))
    rest = [i for i in ITEMS if i != first[-1]]
    second, _ = page_of("things", rest, _key, PageRequest(limit=3, cursor=cursor))
    assert second == ITEMS[3:6]


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!",
        cursor_after("other-list", ("item-01",)),
        cursor_after("things", (1.5,)),  # the right list, a key of another shape
        "eyJsaXN0IjoidGhpbmdzIn0",  # {"list":"things"} without a key
    ],
)
def test_a_cursor_that_is_not_this_lists_is_422(cursor: str) -> None:
    with pytest.raises(ProblemError) as refused:
        page_of("things", ITEMS, _key, PageRequest(limit=3, cursor=cursor))
    assert refused.value.problem.status == 422
    assert refused.value.problem.errors is not None
    assert refused.value.problem.errors[0].field == "query.cursor"
