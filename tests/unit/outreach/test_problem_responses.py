"""Every error is application/problem+json: refusals, validation, routing, crashes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict

from services.outreach.api.problems import (
    FieldError,
    ProblemError,
    as_problem_media,
    field_of,
    install_problem_handlers,
    problem_responses,
)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: str
    count: int


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/things", responses=problem_responses(409, 422, 503))
    async def create(body: Body) -> dict[str, str]:
        if body.name == "taken":
            raise ProblemError(409, "Conflict", "the name is taken")
        if body.name == "busy":
            raise ProblemError(
                503, "Service Unavailable", "try again", headers={"Retry-After": "2"}
            )
        if body.name == "invalid":
            raise ProblemError(
                422, "Unprocessable Content", "bad", errors=[FieldError(field="name", message="x")]
            )
        if body.name == "crash":
            raise RuntimeError("a secret stack detail")
        if body.name == "http":
            raise HTTPException(418, "short and stout")
        return {"name": body.name}

    return app


async def _call(method: str, path: str, **kwargs: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        return await client.request(method, path, **kwargs)


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"] == "about:blank"
    return body


@pytest.mark.parametrize(
    ("name", "status", "title"),
    [
        ("taken", 409, "Conflict"),
        ("busy", 503, "Service Unavailable"),
        ("http", 418, "I'm a Teapot"),
    ],
)
async def test_refusals_are_problems(name: str, status: int, title: str) -> None:
    response = await _call("POST", "/things", json={"name": name, "count": 1})

    body = _problem(response, status)
    assert body["title"] == title
    assert "errors" not in body
    if name == "busy":
        assert response.headers["retry-after"] == "2"


async def test_a_problem_error_may_list_field_errors() -> None:
    body = _problem(await _call("POST", "/things", json={"name": "invalid", "count": 1}), 422)

    assert body["errors"] == [{"field": "name", "message": "x"}]


async def test_invalid_bodies_list_every_field() -> None:
    response = await _call("POST", "/things", json={"name": 3, "extra": True})

    body = _problem(response, 422)
    assert {e["field"] for e in body["errors"]} == {"name", "count", "extra"}
    assert all(e["message"] for e in body["errors"])


@pytest.mark.parametrize("raw", ['{"name": "a", ', "[1, 2", "\xff"])
async def test_unparseable_json_is_422_on_the_body(raw: str) -> None:
    response = await _call(
        "POST",
        "/things",
        content=raw.encode("latin-1"),
        headers={"content-type": "application/json"},
    )

    body = _problem(response, 422)
    assert body["errors"][0]["field"] == "body"


async def test_routing_errors_are_problems() -> None:
    missing = await _call("GET", "/nothing-here")
    wrong_method = await _call("DELETE", "/things")

    assert _problem(missing, 404)["title"] == "Not Found"
    assert _problem(wrong_method, 405)["title"] == "Method Not Allowed"
    assert wrong_method.headers["allow"] == "POST"


async def test_a_crash_is_a_500_without_its_stack() -> None:
    response = await _call("POST", "/things", json={"name": "crash", "count": 1})

    body = _problem(response, 500)
    assert "secret" not in response.text
    assert body["title"] == "Internal Server Error"


def test_field_names_follow_the_location() -> None:
    assert field_of(("body", "permissions", 0)) == "permissions.0"
    assert field_of(("body",)) == "body"
    assert field_of(("query", "from")) == "query.from"
    assert field_of(("path", "account_id")) == "path.account_id"


def test_problem_responses_are_documented_as_problem_json() -> None:
    document = as_problem_media(_app().openapi())

    responses = document["paths"]["/things"]["post"]["responses"]
    for status in ("409", "422", "503"):
        assert list(responses[status]["content"]) == ["application/problem+json"]
        schema = responses[status]["content"]["application/problem+json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/Problem"}
    assert list(responses["200"]["content"]) == ["application/json"]
