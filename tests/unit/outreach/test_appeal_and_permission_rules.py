"""Who may appeal, and which events set an account's whole permission set."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from demo.sample_status import sample_status
from schemas.seller import PermissionGranted, PermissionRevoked
from services.outreach.appeals import Appeal, appeal_refusal
from services.outreach.permissions import permission_events

NOW = datetime(2024, 7, 3, 5, 0, tzinfo=UTC)
OPEN = Appeal(appeal_id="a-1", status="open", text="please", account_id="acc-1", submitted_at=NOW)


def test_a_suspended_seller_without_an_open_appeal_may_appeal() -> None:
    suspended = sample_status("s-1", access="suspended", level=None, weekly_quota=0)

    assert appeal_refusal(suspended, None) is None


@pytest.mark.parametrize(
    ("status", "open_appeal", "reason"),
    [
        (sample_status("s-1", access="active"), None, "this seller is active"),
        (None, None, "this seller is not_enrolled"),
        (
            sample_status("s-1", access="not_enrolled", level=None, weekly_quota=0),
            None,
            "this seller is not_enrolled",
        ),
        (
            sample_status("s-1", access="suspended", level=None, weekly_quota=0),
            OPEN,
            "appeal a-1 is still open",
        ),
    ],
)
def test_refusals_say_why(status, open_appeal, reason: str) -> None:  # type: ignore[no-untyped-def]
    refusal = appeal_refusal(status, open_appeal)

    assert refusal is not None
    assert reason in refusal


def test_the_whole_set_becomes_one_event_per_known_permission() -> None:
    (grant,) = permission_events("s-1", "acc-1", ["customers"], NOW)
    (revoke,) = permission_events("s-1", "acc-1", [], NOW)

    assert isinstance(grant, PermissionGranted)
    assert isinstance(revoke, PermissionRevoked)
    for event in (grant, revoke):
        assert (event.seller_id, event.account_id, event.permission) == (
            "s-1",
            "acc-1",
            "customers",
        )
        assert event.occurred_at == NOW
    assert grant.event_id != revoke.event_id


def test_a_repeated_permission_is_one_grant() -> None:
    events = permission_events("s-1", "acc-1", ["customers", "customers"], NOW)

    assert [type(e) for e in events] == [PermissionGranted]
