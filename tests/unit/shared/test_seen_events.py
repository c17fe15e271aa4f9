"""The in-memory window of event_ids a faust agent keeps (Redis keeps the others')."""

from __future__ import annotations

import json

from services.shared.codec import decode
from services.shared.seen_events import RecentEvents, Seen
from tests.malformed import metrics


def _event(**fields: object):  # type: ignore[no-untyped-def]
    return decode("crm.seller-metrics", json.dumps(metrics(**fields)).encode())


def test_first_wins_an_exact_repeat_is_a_repeat_other_content_a_conflict() -> None:
    recent = RecentEvents()
    first = _event()
    same_json_other_order = decode(
        "crm.seller-metrics",
        json.dumps(dict(reversed(first.model_dump(mode="json").items()))).encode(),
    )
    other = first.model_copy(update={"violation_points": 9})
    assert [recent.sift(e) for e in (first, same_json_other_order, other, first)] == [
        Seen.NEW,
        Seen.REPEAT,
        Seen.CONFLICT,
        Seen.REPEAT,
    ]


def test_the_window_is_bounded_and_forgets_the_oldest() -> None:
    recent = RecentEvents(size=2)
    a, b, c = _event(), _event(), _event()
    assert [recent.sift(e) for e in (a, b, c)] == [Seen.NEW] * 3
    assert recent.sift(c) is Seen.REPEAT
    assert recent.sift(a) is Seen.NEW  # forgotten: past the window
