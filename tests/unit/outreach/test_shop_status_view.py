"""What GET /v1/shop/status shows for a status, a week's usage and an instant."""

from __future__ import annotations

from datetime import UTC, date, datetime

from demo.sample_status import sample_status
from schemas.seller import Criterion
from services.outreach.shop_status import shop_status_of
from services.quota.port import WeekCount

# Tuesday 2 July 2024, 20:00 in Los Angeles: already 3 July in UTC.
NOW = datetime(2024, 7, 3, 3, 0, tzinfo=UTC)
SES = Criterion(name="ses", value=4.1, op=">=", threshold=3.5, passed=True, note=None)


def test_an_active_seller_shows_its_week_and_the_next_evaluation_in_market_time() -> None:
    status = sample_status("s-1", market="US", level=4, weekly_quota=7, criteria=[SES])

    view = shop_status_of("s-1", status, WeekCount(week="2024-W27", limit=7, used=5), NOW)

    assert (view.access, view.eligible, view.level) == ("active", True, 4)
    assert (view.weekly_quota, view.week, view.quota_used, view.quota_left) == (
        7,
        "2024-W27",
        5,
        2,
    )
    assert view.criteria == [SES]
    assert (view.window_start, view.window_end) == (date(2024, 5, 22), date(2024, 6, 22))
    assert view.next_evaluation is not None
    assert view.next_evaluation.isoformat() == "2024-08-01T00:00:00-07:00"


def test_used_beyond_a_lowered_limit_leaves_nothing() -> None:
    status = sample_status("s-1", level=1, weekly_quota=1)

    view = shop_status_of("s-1", status, WeekCount(week="2024-W27", limit=1, used=3), NOW)

    assert (view.weekly_quota, view.quota_used, view.quota_left) == (1, 3, 0)


def test_a_suspended_seller_has_quota_zero() -> None:
    status = sample_status("s-1", access="suspended", level=None, weekly_quota=0)

    view = shop_status_of("s-1", status, WeekCount(week="2024-W27", limit=0, used=0), NOW)

    assert (view.access, view.eligible, view.level, view.quota_left) == (
        "suspended",
        False,
        None,
        0,
    )


def test_a_seller_without_status_is_not_enrolled_with_nulls() -> None:
    view = shop_status_of("s-1", None, WeekCount(week=None, limit=0, used=0), NOW)

    assert view.model_dump(
        include={"access", "eligible", "level", "weekly_quota", "quota_used", "quota_left"}
    ) == {
        "access": "not_enrolled",
        "eligible": False,
        "level": None,
        "weekly_quota": 0,
        "quota_used": 0,
        "quota_left": 0,
    }
    assert view.criteria == []
    assert (view.market, view.week, view.window_start, view.window_end) == (None, None, None, None)
    assert view.next_evaluation is None
