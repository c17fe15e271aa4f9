"""A page of cap decisions (`may_send_many`, one round trip) answers exactly what asking
one message at a time does, on real Redis: the same calls replayed with `may_send` on
a second key prefix, and on the in-memory fake (the domain rule)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from demo.sample_status import sample_status
from services.quota.adapter import RedisQuota
from services.quota.domain.frequency_cap import CapDecision
from services.quota.port import InMemoryQuota
from services.quota.redis_store import CAP_BATCH
from services.shared.settings import Settings
from tests.integration.quota_support import QUOTA_TOPICS, redis_quota
from tests.quota_contract import MID_WEEK

Message = tuple[str, str]


@dataclass
class Quotas:
    paged: RedisQuota
    one_by_one: RedisQuota


@pytest.fixture
async def quotas(settings: Settings, topics, redis_url: str, redis_client) -> AsyncIterator[Quotas]:  # type: ignore[no-untyped-def]
    await topics(*QUOTA_TOPICS)
    second = settings.model_copy(update={"topic_prefix": f"{settings.topic_prefix}b."})
    async with redis_quota(settings, redis_url) as paged, redis_quota(second, redis_url) as one:
        yield Quotas(paged, one)


async def _new_seller(quotas: Quotas, fake: InMemoryQuota) -> str:
    seller = f"seller-{uuid.uuid4().hex[:10]}"
    status = sample_status(seller)
    for quota in (quotas.paged, quotas.one_by_one):
        await quota.store.put_status(status, 1)
    fake.set_status(status)
    return seller


async def _one_by_one(
    quota: RedisQuota | InMemoryQuota, seller: str, page: list[Message], at_hours: int
) -> list[CapDecision]:
    at = MID_WEEK + timedelta(hours=at_hours)
    return [await quota.may_send(seller, c, m, at) for c, m in page]


# Few customers and messages, so pages repeat customers and message ids, and the
# cap (2 in 7 days) is reached; times span 13 days, out of order. (Redis forgets a
# decision two windows after it; the fake never does, so a longer span would differ.)
_customers = st.sampled_from(["c1", "c2", "c3"])
_messages = st.tuples(_customers, st.sampled_from(["m1", "m2", "m3", "m4"]))
_pages = st.lists(
    st.tuples(st.lists(_messages, max_size=12), st.integers(0, 13 * 24), st.booleans()),
    min_size=1,
    max_size=6,
)


@given(pages=_pages)
@hypothesis_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
async def test_a_page_decides_as_one_message_at_a_time(
    quotas: Quotas, pages: list[tuple[list[Message], int, bool]]
) -> None:
    fake = InMemoryQuota()
    seller = await _new_seller(quotas, fake)
    for page, at_hours, as_a_page in pages:
        at = MID_WEEK + timedelta(hours=at_hours)
        # Some calls go one at a time on the paged side too: history made either way.
        if as_a_page:
            paged = await quotas.paged.may_send_many(seller, page, at)
        else:
            paged = await _one_by_one(quotas.paged, seller, page, at_hours)
        one_by_one = await _one_by_one(quotas.one_by_one, seller, page, at_hours)
        in_memory = await _one_by_one(fake, seller, page, at_hours)
        assert paged == one_by_one, (page, at_hours)
        assert one_by_one == in_memory, (page, at_hours)


@pytest.mark.parametrize(
    ("history", "page", "answers"),
    [
        # A customer twice in one page: the second sees the first's write.
        ([], [("c1", "p1"), ("c1", "p2"), ("c1", "p3")], ["a", "a", "c"]),
        # The same message twice in one page is a repeat of the first answer.
        ([], [("c1", "p1"), ("c1", "p1"), ("c2", "p1")], ["a", "A", "a"]),
        # Earlier plans' history: two sent (capped), one sent (one left), a refusal kept.
        (
            [("c1", "old1"), ("c1", "old2"), ("c1", "old3"), ("c2", "old1")],
            [("c1", "p1"), ("c2", "p1"), ("c1", "old3"), ("c1", "old1"), ("c3", "p1")],
            ["c", "a", "C", "A", "a"],
        ),
    ],
)
async def test_pages_against_history(
    quotas: Quotas, history: list[Message], page: list[Message], answers: list[str]
) -> None:
    seller = await _new_seller(quotas, InMemoryQuota())
    for customer, message in history:
        await quotas.paged.may_send(seller, customer, message, MID_WEEK)
    decisions = await quotas.paged.may_send_many(seller, page, MID_WEEK + timedelta(days=1))
    codes = {
        ("allowed", False): "a",
        ("allowed", True): "A",
        ("frequency_capped", False): "c",
        ("frequency_capped", True): "C",
    }
    assert [codes[d.outcome, d.repeated] for d in decisions] == answers


async def test_the_cap_holds_across_two_plans_and_pages_larger_than_one_script(
    quotas: Quotas,
) -> None:
    """Three plans to 2,500 customers (three scripts per page): two allowed, the third capped;
    a customer in the first and last script of one page sees its own earlier answer."""
    seller = await _new_seller(quotas, InMemoryQuota())
    customers = [f"cust-{n}" for n in range(2 * CAP_BATCH + 500)]
    answers = {}
    for day, plan in enumerate(["plan-a", "plan-b", "plan-c"]):
        page = [(c, plan) for c in customers]
        decisions = await quotas.paged.may_send_many(seller, page, MID_WEEK + timedelta(days=day))
        answers[plan] = {(d.outcome, d.repeated) for d in decisions}
        assert len(decisions) == len(customers)
    assert answers == {
        "plan-a": {("allowed", False)},
        "plan-b": {("allowed", False)},
        "plan-c": {("frequency_capped", False)},
    }
    straddling = [("cust-0", "plan-d"), *[(f"x-{n}", "plan-d") for n in range(CAP_BATCH)]]
    straddling.append(("cust-0", "plan-d"))
    decisions = await quotas.paged.may_send_many(seller, straddling, MID_WEEK)
    assert (decisions[0].outcome, decisions[0].repeated) == ("frequency_capped", False)
    assert (decisions[-1].outcome, decisions[-1].repeated) == ("frequency_capped", True)


async def test_a_page_after_redis_forgot_its_scripts(quotas: Quotas) -> None:
    """A restarted Redis has no scripts: the page reloads them (NOSCRIPT) and still
    answers every message once, in order."""
    seller = await _new_seller(quotas, InMemoryQuota())
    # An unknown sha is what a restarted Redis answers NOSCRIPT to; SCRIPT FLUSH would
    # do the same to every other test sharing this Redis.
    script = quotas.paged.store._may_send_many
    script.sha = "0" * 40
    page = [(f"cust-{n % 1500}", "plan-a") for n in range(3000)]
    decisions = await quotas.paged.may_send_many(seller, page, MID_WEEK)
    assert [(d.outcome, d.repeated) for d in decisions] == [("allowed", False)] * 1500 + [
        ("allowed", True)
    ] * 1500
    assert script.sha != "0" * 40
