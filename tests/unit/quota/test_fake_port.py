"""The in-memory fake follows the port's rules (the same scenarios run on Redis)."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from demo.sample_status import sample_status
from schemas.quota import QuotaReleased, QuotaReserved
from schemas.seller import SellerStatusChanged
from services.quota.adapter import RedisQuota
from services.quota.domain.ledger_facts import ledger_event_id
from services.quota.port import InMemoryQuota, QuotaPort
from tests import quota_contract
from tests.quota_contract import MID_WEEK

pytestmark = pytest.mark.unit


def _setter(quota: InMemoryQuota) -> Callable[[SellerStatusChanged], Awaitable[None]]:
    async def set_status(status: SellerStatusChanged) -> None:
        quota.set_status(status)

    return set_status


@pytest.mark.parametrize("scenario", quota_contract.SCENARIOS, ids=lambda s: s.__name__)
async def test_the_fake_follows_the_port_rules(scenario) -> None:  # type: ignore[no-untyped-def]
    quota = InMemoryQuota()
    await scenario(quota, _setter(quota), "seller-1")


async def test_a_seller_without_status_has_quota_zero() -> None:
    await quota_contract.a_seller_without_status_has_quota_zero(InMemoryQuota(), "seller-1")


def _port_methods() -> dict[str, Any]:
    return {
        name: member
        for name, member in vars(QuotaPort).items()
        if not name.startswith("_") and inspect.isfunction(member)
    }


def test_the_port_has_the_methods_its_callers_use() -> None:
    assert set(_port_methods()) == {
        "reserve",
        "release",
        "mark_dispatched",
        "usage",
        "seller_status",
        "may_send",
        "may_send_many",
    }


@pytest.mark.parametrize("implementation", [InMemoryQuota, RedisQuota], ids=lambda c: c.__name__)
def test_an_implementation_has_every_port_method_with_its_signature(implementation: type) -> None:
    # A method missing, renamed, made synchronous or given other parameters or types
    # would pass the fake's unit tests and fail only against the real adapter.
    for name, declared in _port_methods().items():
        implemented = getattr(implementation, name, None)
        assert implemented is not None, f"{implementation.__name__} lacks {name}"
        assert inspect.iscoroutinefunction(implemented) == inspect.iscoroutinefunction(declared)
        assert inspect.signature(implemented, eval_str=True) == inspect.signature(
            declared, eval_str=True
        ), name


async def test_the_fake_records_the_ledger_facts_the_adapter_publishes() -> None:
    at = datetime(2024, 7, 1, 9, tzinfo=UTC)
    quota = InMemoryQuota(clock=lambda: at)
    await _setter(quota)(sample_status("seller-1", weekly_quota=5))
    await quota.reserve("seller-1", "plan-a", "one_time", MID_WEEK)
    await quota.reserve("seller-1", "plan-a", "one_time", MID_WEEK)
    await quota.reserve("seller-1", "plan-b", "one_time", MID_WEEK)
    await quota.release("seller-1", "plan-a", "one_time", MID_WEEK)
    await quota.release("seller-1", "plan-a", "one_time", MID_WEEK)

    summary = [(type(e), e.plan_id, e.limit, e.used_after) for e in quota.ledger]
    assert summary == [
        (QuotaReserved, "plan-a", 5, 1),
        (QuotaReserved, "plan-b", 5, 2),
        (QuotaReleased, "plan-a", 5, 1),
    ]
    assert quota.ledger[0].event_id == ledger_event_id("seller-1", "plan-a", "reserved")
    assert {e.week for e in quota.ledger} == {"2024-W27"}
    assert {e.occurred_at for e in quota.ledger} == {at}
