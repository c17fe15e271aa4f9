"""Bad requests answer problem+json: unparseable and wrong-typed bodies 422 with every
field named, unknown routes 404, wrong methods 405."""

from __future__ import annotations

from tests.integration.outreach.conftest import ApiUnderTest
from tests.integration.outreach.support import assert_problem


async def test_malformed_json_is_422_with_errors(api: ApiUnderTest, test_id: str) -> None:
    seller = f"seller-{test_id}"
    headers = {**api.auth(seller), "Content-Type": "application/json"}
    for body in ('{"permissions": ["customers"]', "not json", ""):
        response = await api.client.put(
            f"/v1/accounts/helper-{test_id}/permissions", content=body, headers=headers
        )
        problem = assert_problem(response, 422)
        assert problem["errors"], (body, problem)
        assert problem["errors"][0]["field"] == "body", (body, problem)


async def test_wrong_typed_bodies_are_422_naming_each_field(
    api: ApiUnderTest, test_id: str
) -> None:
    seller = f"seller-{test_id}"
    headers = api.auth(seller)
    cases = [
        (
            "PUT",
            f"/v1/accounts/helper-{test_id}/permissions",
            {"permissions": "customers"},
            "permissions",
        ),
        (
            "PUT",
            f"/v1/accounts/helper-{test_id}/permissions",
            {"permissions": ["admin"]},
            "permissions.0",
        ),
        ("PUT", f"/v1/accounts/helper-{test_id}/permissions", {"permission": []}, "permissions"),
        ("POST", "/v1/appeals", {"text": 5}, "text"),
        ("POST", "/v1/appeals", {"text": "   "}, "text"),
        ("POST", "/v1/appeals", ["text"], "body"),
    ]
    for method, path, body, field in cases:
        response = await api.client.request(method, path, json=body, headers=headers)
        problem = assert_problem(response, 422)
        assert field in {e["field"] for e in problem["errors"]}, (body, problem)
        assert all(e["message"] for e in problem["errors"]), problem


async def test_an_unknown_field_is_refused(api: ApiUnderTest, test_id: str) -> None:
    response = await api.client.put(
        f"/v1/accounts/helper-{test_id}/permissions",
        json={"permissions": [], "permisions": ["customers"]},
        headers=api.auth(f"seller-{test_id}"),
    )
    problem = assert_problem(response, 422)
    assert {e["field"] for e in problem["errors"]} == {"permisions"}


async def test_unknown_routes_and_methods_are_problems(api: ApiUnderTest, test_id: str) -> None:
    assert_problem(await api.client.get("/v1/no-such-thing"), 404)
    wrong_method = await api.client.delete("/v1/templates")
    assert_problem(wrong_method, 405)
    assert "GET" in wrong_method.headers["allow"]
    # GET and PUT of this path are two routes; Allow names both.
    spread = await api.client.delete(f"/v1/accounts/a-{test_id}/permissions")
    assert_problem(spread, 405)
    assert {"GET", "PUT"} <= set(spread.headers["allow"].split(", "))
