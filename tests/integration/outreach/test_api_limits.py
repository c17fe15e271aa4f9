"""The seller API's limits (SPEC section 7) over real HTTP, Kafka and Redis: the rate
limit, the body size, paging, Idempotency-Key, If-Match, token lifetime, forbidden
characters, bounded error answers, and a submit whose segment was deleted."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from demo.sample_status import sample_status
from services.outreach.api.auth import mint_token
from services.outreach.api.limits import ApiLimits
from services.outreach.api.paging import cursor_after
from services.shared.settings import Settings
from tests.integration.outreach.plans_api import PlansApi, one_time, plans_api, utc_now
from tests.integration.outreach.processor_support import OUTREACH_TOPICS
from tests.integration.outreach.support import assert_problem

TOPICS = (*OUTREACH_TOPICS, "crm.segments")
JAVA_BUYERS = [
    {"field": "region", "op": "in", "value": ["JK", "JB"]},
    {"field": "is_follower", "op": "is_true", "value": None},
    {"field": "order_count", "op": "eq", "value": 0},
]


@pytest.fixture
async def api_settings(settings: Settings, topics: Any, redis_url: str) -> Settings:
    await topics(*TOPICS)
    return settings.model_copy(update={"redis_url": redis_url})


@pytest.fixture
async def api(api_settings: Settings) -> AsyncIterator[PlansApi]:
    async with plans_api(api_settings) as api:
        yield api


async def _active(api: PlansApi, seller: str, quota: int = 3) -> None:
    await api.set_status(sample_status(seller, level=2, weekly_quota=quota, occurred_at=utc_now()))


# --- rate limit ------------------------------------------------------------------------


async def test_a_seller_over_its_rate_gets_429_with_retry_after_and_others_do_not(
    api_settings: Settings, test_id: str
) -> None:
    # A token every 10 s: the requests below run well within one refill, even on a busy host.
    limits = ApiLimits(rate_per_second=0.1, rate_burst=3)
    # Two API processes on one Redis share each seller's bucket.
    async with (
        plans_api(api_settings, processor=False, limits=limits) as first,
        plans_api(api_settings, processor=False, limits=limits) as second,
    ):
        busy, quiet = f"busy-{test_id}", f"quiet-{test_id}"
        # The first request of a process is slow (connections); not while counting.
        for api in (first, second):
            await api.client.get("/v1/templates", headers=api.auth(f"warm-{test_id}"))
        answers = [
            await api.client.get("/v1/templates", headers=api.auth(busy))
            for api in (first, second, first)
        ]
        assert [a.status_code for a in answers] == [200, 200, 200]
        refused = await second.client.get("/v1/templates", headers=second.auth(busy))
        problem = assert_problem(refused, 429)
        assert "per second" in problem["detail"]
        retry_after = int(refused.headers["Retry-After"])
        assert 1 <= retry_after <= 10
        # Every seller route counts, plans included.
        assert_problem(await first.client.get("/v1/plans", headers=first.auth(busy)), 429)

        other = await first.client.get("/v1/templates", headers=first.auth(quiet))
        assert other.status_code == 200, other.text

        await asyncio.sleep(retry_after + 0.1)
        again = await first.client.get("/v1/templates", headers=first.auth(busy))
        assert again.status_code == 200, again.text


# --- body size ---------------------------------------------------------------------------


async def test_a_body_over_the_limit_is_413_declared_or_chunked(
    api_settings: Settings, test_id: str
) -> None:
    limits = ApiLimits(max_body_bytes=2048)
    async with plans_api(api_settings, processor=False, limits=limits) as api:
        seller = f"s{test_id}"
        big = one_time(name="x" * 4096)
        declared = await api.client.post("/v1/plans", json=big, headers=api.auth(seller))
        assert "larger than 2048 bytes" in assert_problem(declared, 413)["detail"]

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(64):
                yield b" " * 256

        chunked = await api.client.post(
            "/v1/plans",
            content=chunks(),
            headers={**api.auth(seller), "Content-Type": "application/json"},
        )
        assert "Content-Length" not in chunked.request.headers
        assert chunked.request.headers["Transfer-Encoding"] == "chunked"
        assert "2048" in assert_problem(chunked, 413)["detail"]

        small = await api.client.post(
            "/v1/segments/preview", json={"conditions": []}, headers=api.auth(seller)
        )
        assert small.status_code == 422, small.text  # read and judged, not refused for size


# --- bounded errors ----------------------------------------------------------------------


async def test_an_invalid_huge_value_comes_back_as_one_short_excerpt(
    api: PlansApi, test_id: str
) -> None:
    seller = f"s{test_id}"
    await _active(api, seller)  # only an active seller may create plans
    huge = "Z" * 500_000
    body = one_time()
    body["content"] = {"template_id": huge, "default_language": "en"}
    response = await api.client.post("/v1/plans", json=body, headers=api.auth(seller))
    problem = assert_problem(response, 422)
    assert len(response.content) < 2_000, len(response.content)
    assert response.text.count("Z" * 100) == 1
    assert "Z" * 101 not in response.text
    assert [e["field"] for e in problem["errors"]] == ["content.template_id"]

    conditions = [{"field": "region", "op": "in", "value": [huge]}, *JAVA_BUYERS[1:]]
    segment = await api.client.post(
        "/v1/segments", json={"name": "Big", "conditions": conditions}, headers=api.auth(seller)
    )
    assert_problem(segment, 422)
    assert len(segment.content) < 2_000, len(segment.content)


# --- paging ------------------------------------------------------------------------------


async def _pages(api: PlansApi, seller: str, path: str, **params: Any) -> list[dict[str, Any]]:
    pages: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await api.client.get(path, params=query, headers=api.auth(seller))
        assert response.status_code == 200, response.text
        pages.append(response.json())
        cursor = pages[-1]["next_cursor"]
        if cursor is None:
            return pages


async def test_lists_page_with_limit_and_cursor(api: PlansApi, test_id: str) -> None:
    seller = f"s{test_id}"
    await _active(api, seller)  # only an active seller may create plans
    made = [(await api.create(seller, one_time(name=f"Plan {n}")))["plan_id"] for n in range(5)]
    automated_id = (
        await api.create(
            seller,
            {
                "type": "automated",
                "name": "Cart reminder",
                "segment_id": "cart_abandoners",
                "content": {"template_id": "cart_reminder", "default_language": "en"},
                "trigger": {"type": "cart_abandoned"},
                "starts_at": utc_now().isoformat(),
                "ends_at": (utc_now() + timedelta(days=3)).isoformat(),
            },
        )
    )["plan_id"]

    pages = await _pages(api, seller, "/v1/plans", limit=2)
    assert [len(p["items"]) for p in pages] == [2, 2, 2]
    listed = [plan["plan_id"] for page in pages for plan in page["items"]]
    assert listed == [automated_id, *reversed(made)], "newest first, each once"

    filtered = await _pages(api, seller, "/v1/plans", limit=2, type="one_time", status="draft")
    assert [len(p["items"]) for p in filtered] == [2, 2, 1]
    assert [p["plan_id"] for page in filtered for p in page["items"]] == list(reversed(made))

    whole = await api.client.get("/v1/plans", headers=api.auth(seller))
    assert len(whole.json()["items"]) == 6
    assert whole.json()["next_cursor"] is None

    templates = await _pages(api, seller, "/v1/templates", limit=3)
    assert [len(p["items"]) for p in templates] == [3, 3, 2]
    assert len({t["template_id"] for page in templates for t in page["items"]}) == 8

    segments = await _pages(api, seller, "/v1/segments", limit=5)
    assert [len(p["items"]) for p in segments] == [5, 2]

    appeals = await _pages(api, seller, "/v1/appeals", limit=1)
    assert appeals == [{"items": [], "next_cursor": None}]

    nan = cursor_after("plans", (float("nan"), "p"))
    for bad in ({"limit": 201}, {"limit": 0}, {"cursor": "not-a-cursor"}, {"cursor": nan}):
        assert_problem(await api.client.get("/v1/plans", params=bad, headers=api.auth(seller)), 422)
    # A cursor of another list is refused, not misread.
    assert_problem(
        await api.client.get(
            "/v1/plans", params={"cursor": templates[0]["next_cursor"]}, headers=api.auth(seller)
        ),
        422,
    )


# --- Idempotency-Key ---------------------------------------------------------------------


async def test_an_idempotency_key_reused_with_another_body_is_422(
    api: PlansApi, test_id: str
) -> None:
    seller = f"s{test_id}"
    await _active(api, seller)  # only an active seller may create plans
    body = one_time()
    key = {"Idempotency-Key": f"k-{test_id}"}
    first = await api.client.post("/v1/plans", json=body, headers={**api.auth(seller), **key})
    again = await api.client.post("/v1/plans", json=body, headers={**api.auth(seller), **key})
    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert first.json()["plan_id"] == again.json()["plan_id"]

    other = await api.client.post(
        "/v1/plans", json={**body, "name": "Another"}, headers={**api.auth(seller), **key}
    )
    problem = assert_problem(other, 422)
    assert problem["errors"][0]["field"] == "header.idempotency-key"

    segment = {"name": "Java", "conditions": JAVA_BUYERS}
    saved = await api.client.post("/v1/segments", json=segment, headers={**api.auth(seller), **key})
    assert saved.status_code == 201, saved.text
    reused = await api.client.post(
        "/v1/segments", json={**segment, "name": "Bali"}, headers={**api.auth(seller), **key}
    )
    assert_problem(reused, 422)


# --- If-Match ----------------------------------------------------------------------------


async def test_patch_honours_if_match_with_the_plans_version(api: PlansApi, test_id: str) -> None:
    seller = f"s{test_id}"
    await _active(api, seller)  # only an active seller may create plans
    plan_id = (await api.create(seller, one_time()))["plan_id"]
    read = await api.client.get(f"/v1/plans/{plan_id}", headers=api.auth(seller))
    assert read.headers["ETag"] == '"1"'

    def patch(name: str, if_match: str | None) -> Any:
        headers = {**api.auth(seller), **({"If-Match": if_match} if if_match else {})}
        return api.client.patch(f"/v1/plans/{plan_id}", json={"name": name}, headers=headers)

    matched = await patch("Second", '"1"')
    assert matched.status_code == 200, matched.text
    assert matched.headers["ETag"] == '"2"'
    stale = await patch("Lost update", '"1"')
    assert_problem(stale, 412)
    assert stale.headers["ETag"] == '"2"'
    assert_problem(await patch("Weak", 'W/"2"'), 412)
    assert (await patch("Listed", '"7", "2"')).headers["ETag"] == '"3"'
    assert (await patch("Any", "*")).headers["ETag"] == '"4"'
    unconditional = await patch("No precondition", None)
    assert unconditional.status_code == 200, unconditional.text
    assert (await api.get(seller, plan_id))["name"] == "No precondition"


# --- tokens ------------------------------------------------------------------------------


async def test_a_token_living_longer_than_the_maximum_is_401(
    api_settings: Settings, test_id: str
) -> None:
    limits = ApiLimits(max_token_lifetime_seconds=3600)
    async with plans_api(api_settings, processor=False, limits=limits) as api:
        secret = api_settings.jwt_secret.get_secret_value()
        seller = f"s{test_id}"

        def bearer(ttl: timedelta) -> dict[str, str]:
            token = mint_token(secret, seller, seller, "owner", ttl, utc_now())
            return {"Authorization": f"Bearer {token}"}

        ok = await api.client.get("/v1/templates", headers=bearer(timedelta(minutes=59)))
        assert ok.status_code == 200, ok.text
        for ttl in (timedelta(hours=2), timedelta(days=365 * 3000)):
            refused = await api.client.get("/v1/templates", headers=bearer(ttl))
            assert "lives longer" in assert_problem(refused, 401)["detail"]


# --- characters --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "Sale\x00"),
        ("name", "Two\nlines"),
        ("content.texts.en", "Red \x1b[31malert"),
        ("content.texts.en", "Price \u202e99"),
        ("content.texts.en", "Isolated \u2066x\u2069"),
        ("content.texts.en", "C1 \x9b control"),
    ],
)
async def test_control_and_bidi_characters_are_422_naming_the_field(
    api: PlansApi, test_id: str, field: str, value: str
) -> None:
    body = one_time()
    body["content"]["default_language"] = "en"
    if field == "name":
        body["name"] = value
    else:
        body["content"]["texts"]["en"] = value
    await _active(api, f"s{test_id}")  # only an active seller may create plans
    problem = assert_problem(
        await api.client.post("/v1/plans", json=body, headers=api.auth(f"s{test_id}")), 422
    )
    assert [e["field"] for e in problem["errors"]] == [field]
    assert "U+" in problem["errors"][0]["message"]


async def test_texts_keep_line_feeds_and_tabs_and_other_names_are_checked(
    api: PlansApi, test_id: str
) -> None:
    seller = f"s{test_id}"
    await _active(api, seller)  # only an active seller may create plans
    body = one_time()
    body["content"]["texts"]["en"] = "Line one\n\tLine two"
    assert (await api.create(seller, body))["content"]["texts"]["en"] == "Line one\n\tLine two"

    segment = await api.client.post(
        "/v1/segments",
        json={"name": "Java \u202ebuyers", "conditions": JAVA_BUYERS},
        headers=api.auth(seller),
    )
    assert [e["field"] for e in assert_problem(segment, 422)["errors"]] == ["name"]
    appeal = await api.client.post(
        "/v1/appeals", json={"text": "Please\x00"}, headers=api.auth(seller)
    )
    assert [e["field"] for e in assert_problem(appeal, 422)["errors"]] == ["text"]


# --- a deleted segment -------------------------------------------------------------------


async def test_submitting_a_plan_whose_segment_was_deleted_is_invalid_plan_without_quota(
    api: PlansApi, test_id: str
) -> None:
    seller = f"s{test_id}"
    await _active(api, seller)
    saved = await api.client.post(
        "/v1/segments", json={"name": "Java", "conditions": JAVA_BUYERS}, headers=api.auth(seller)
    )
    assert saved.status_code == 201, saved.text
    segment_id = saved.json()["segment_id"]
    plan_id = (await api.create(seller, one_time(segment_id=segment_id)))["plan_id"]
    deleted = await api.client.delete(f"/v1/segments/{segment_id}", headers=api.auth(seller))
    assert deleted.status_code == 204, deleted.text

    submitted = await api.act(seller, plan_id, "submit")
    assert submitted.status_code == 200, submitted.text
    assert (submitted.json()["status"], submitted.json()["reason"]) == ("rejected", "invalid_plan")
    status = await api.client.get("/v1/shop/status", headers=api.auth(seller))
    assert (status.json()["quota_used"], status.json()["quota_left"]) == (0, 3)

    # The same plan on a live segment takes its unit as before.
    kept = await api.create(seller, one_time())
    scheduled = await api.act(seller, kept["plan_id"], "submit")
    assert scheduled.json()["status"] == "scheduled", scheduled.text
