"""/healthz, /readyz, /metrics and the OpenAPI document."""

from __future__ import annotations

from dataclasses import replace

import httpx
import redis.asyncio as aioredis

from services.outreach.api.app import build_app
from services.outreach.appeals import appeal_store
from tests.integration.outreach.conftest import ApiUnderTest
from tests.integration.outreach.serving import serving
from tests.integration.outreach.support import assert_problem


async def test_health_readiness_and_metrics(api: ApiUnderTest, test_id: str) -> None:
    assert (await api.client.get("/healthz")).json() == {"status": "ok", "service": "api"}
    ready = await api.client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {
        "status": "ready",
        "checks": {"kafka": True, "redis": True, "plan_replies": True},
    }
    await api.client.get(f"/v1/accounts/a-{test_id}/permissions")  # 401, no token

    metrics = (await api.client.get("/metrics")).text

    assert (
        'crm_api_requests_total{method="GET",route="/v1/accounts/{account_id}/permissions",'
        'status="401"}' in metrics
    )
    assert 'crm_api_request_duration_seconds_count{method="GET",route="/readyz"}' in metrics


async def test_readiness_names_what_does_not_answer(api: ApiUnderTest) -> None:
    # Redis gone (a port where nothing listens): the process lives, but is not ready.
    gone = aioredis.Redis.from_url("redis://127.0.0.1:1/0")
    runtime = replace(api.runtime, redis=gone)
    async with (
        serving(build_app(runtime)) as base_url,
        httpx.AsyncClient(base_url=base_url) as client,
    ):
        assert (await client.get("/healthz")).status_code == 200
        problem = assert_problem(await client.get("/readyz"), 503)
    await gone.aclose()
    assert problem["checks"] == {"kafka": True, "redis": False, "plan_replies": True}
    assert "redis" in problem["detail"]


async def test_a_backing_service_that_does_not_answer_is_a_503(
    api: ApiUnderTest, test_id: str
) -> None:
    gone = aioredis.Redis.from_url("redis://127.0.0.1:1/0")
    runtime = replace(api.runtime, appeals=appeal_store(api.settings, gone))
    async with (
        serving(build_app(runtime)) as base_url,
        httpx.AsyncClient(base_url=base_url) as client,
    ):
        response = await client.get("/v1/appeals", headers=api.auth(f"seller-{test_id}"))
    await gone.aclose()
    assert_problem(response, 503)
    assert response.headers["retry-after"] == str(runtime.outreach.retry_after_seconds)


async def test_the_openapi_document_describes_every_endpoint(api: ApiUnderTest) -> None:
    document = (await api.client.get("/openapi.json")).json()

    assert document["info"]["title"] == "CRM Broadcast API"
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": document["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    operations = {
        (method.upper(), path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }
    assert set(operations) >= {
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/metrics"),
        ("GET", "/v1/shop/status"),
        ("GET", "/v1/templates"),
        ("GET", "/v1/appeals"),
        ("POST", "/v1/appeals"),
        ("PUT", "/v1/accounts/{account_id}/permissions"),
        ("GET", "/v1/plans"),
        ("POST", "/v1/plans"),
        ("GET", "/v1/plans/{plan_id}"),
        ("PATCH", "/v1/plans/{plan_id}"),
        ("DELETE", "/v1/plans/{plan_id}"),
        ("POST", "/v1/plans/{plan_id}/submit"),
        ("POST", "/v1/plans/{plan_id}/cancel"),
    }
    for (method, path), operation in operations.items():
        responses = operation["responses"]
        success = [s for s in responses if s.startswith("2")]
        assert success, (method, path)
        # 204 No Content is the one success without a body (DELETE of a draft).
        assert all(responses[s].get("content") for s in success if s != "204"), (method, path)
        for status, response in responses.items():
            if status[0] in "45":
                assert list(response["content"]) == ["application/problem+json"], (path, status)
        if path.startswith("/v1/"):
            assert operation["security"] == [{"bearerAuth": []}], path
            assert "401" in responses, path
    assert "422" in operations[("PUT", "/v1/accounts/{account_id}/permissions")]["responses"]
    assert "409" in operations[("POST", "/v1/appeals")]["responses"]
    assert "403" in operations[("GET", "/v1/templates")]["responses"]
