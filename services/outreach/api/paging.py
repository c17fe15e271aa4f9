"""Paged lists (SPEC section 7): `?limit=` (default 50, at most 200) and `?cursor=`,
answering {"items": [...], "next_cursor": ...} with null on the last page.

A cursor is opaque to clients: base64url of the list's name and the sort key of the last
item served. The next page starts after that key, so items added or removed meanwhile
neither repeat nor skip the ones still there.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Query

from services.outreach.api.problems import FieldError, ProblemError

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
_CURSOR_MAX_LENGTH = 1024

Key = tuple[Any, ...]
T = TypeVar("T")


@dataclass(frozen=True)
class PageRequest:
    limit: int
    cursor: str | None

    def after(self, listing: str) -> Key | None:
        """The sort key the page starts after, or None for the first page."""
        if self.cursor is None:
            return None
        try:
            padded = self.cursor + "=" * (-len(self.cursor) % 4)
            decoded = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
            if decoded["list"] != listing or not isinstance(decoded["after"], list):
                raise ValueError("another list's cursor")
            key = tuple(decoded["after"])
            if not all(isinstance(part, str | int | float) for part in key):
                raise ValueError("not a sort key")
            return key
        except (ValueError, TypeError, KeyError, UnicodeError, binascii.Error):
            raise bad_cursor() from None


def bad_cursor() -> ProblemError:
    return ProblemError(
        422,
        "Unprocessable Content",
        "the cursor is not one this list gave out",
        errors=[FieldError(field="query.cursor", message="not a cursor of this list")],
    )


def cursor_after(listing: str, key: Key) -> str:
    raw = json.dumps({"list": listing, "after": list(key)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode("ascii").rstrip("=")


async def page_request(
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description=f"Items per page, at most {MAX_LIMIT}.")
    ] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None,
        Query(
            max_length=_CURSOR_MAX_LENGTH,
            description="`next_cursor` of the previous page; absent for the first.",
        ),
    ] = None,
) -> PageRequest:
    return PageRequest(limit=limit, cursor=cursor)


def page_of(
    listing: str, items: Sequence[T], key: Callable[[T], Key], request: PageRequest
) -> tuple[list[T], str | None]:
    """One page of `items`, which are in ascending order of `key`."""
    after = request.after(listing)
    try:
        rest = [item for item in items if after is None or key(item) > after]
    except TypeError:
        # A key of the right list but another shape (parts of other types).
        raise bad_cursor() from None
    page = rest[: request.limit]
    more = len(rest) > request.limit
    return page, cursor_after(listing, key(page[-1])) if more else None
