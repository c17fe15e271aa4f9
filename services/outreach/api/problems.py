"""Every error of the seller API as `application/problem+json` (RFC 9457).

Handlers here turn whatever went wrong — a refused rule (`ProblemError`), a route
that does not exist, a body that does not parse or validate, a bug — into one
shape: {type, title, status, detail}, plus `errors: [{field, message}]` for 422.
Clients then need one error parser, and a bug never leaks a stack trace.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

log = structlog.get_logger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
# What an answer may quote of what the client sent: a 5 MB value is not sent back.
EXCERPT_CHARS = 100
FIELD_MAX_CHARS = 200
TEXT_MAX_CHARS = 500
MAX_ERRORS = 50
# RFC 9457: "about:blank" says the title is the HTTP status phrase and nothing more.
ABOUT_BLANK = "about:blank"


class FieldError(BaseModel):
    field: str = Field(
        description="Where: a body field path (`permissions.0`), or `body`, "
        "`query.NAME`, `path.NAME`, `header.NAME`."
    )
    message: str


class Problem(BaseModel):
    """An error answer (RFC 9457 problem details)."""

    type: str = Field(default=ABOUT_BLANK, description="A URI naming the kind of problem.")
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = Field(
        default=None, description="Every invalid input (422 only)."
    )


class ProblemError(Exception):
    """Raised by a route or dependency to answer with a problem."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        headers: Mapping[str, str] | None = None,
        errors: Sequence[FieldError | Mapping[str, str]] | None = None,
        *,
        type: str = ABOUT_BLANK,
    ) -> None:
        super().__init__(f"{status} {title}: {detail}")
        self.problem = Problem(
            type=type,
            title=title,
            status=status,
            detail=detail,
            errors=[FieldError.model_validate(e) for e in errors] if errors is not None else None,
        )
        self.headers = dict(headers or {})


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """`text`, or its first `limit` characters and how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text)} characters)"


def _bounded(problem: Problem) -> Problem:
    """Every text of an answer cut to its bound, whatever produced it."""
    errors = problem.errors
    if errors is not None:
        errors = [
            FieldError(
                field=excerpt(e.field, FIELD_MAX_CHARS), message=excerpt(e.message, TEXT_MAX_CHARS)
            )
            for e in errors[:MAX_ERRORS]
        ]
    return problem.model_copy(
        update={"detail": excerpt(problem.detail, TEXT_MAX_CHARS), "errors": errors}
    )


def invalid(title: str, errors: Sequence[FieldError]) -> ProblemError:
    """A 422 naming its fields in `detail`; each message is said once, in `errors`."""
    return ProblemError(422, title, f"invalid: {_fields_of(errors)}", errors=errors)


def _fields_of(errors: Sequence[FieldError]) -> str:
    fields = sorted({excerpt(e.field, EXCERPT_CHARS) for e in errors})
    more = f" and {len(fields) - 5} more" if len(fields) > 5 else ""
    return ", ".join(fields[:5]) + more


def problem_response(problem: Problem, headers: Mapping[str, str] | None = None) -> JSONResponse:
    problem = _bounded(problem)
    return JSONResponse(
        problem.model_dump(exclude_none=True),
        status_code=problem.status,
        headers=dict(headers or {}),
        media_type=PROBLEM_MEDIA_TYPE,
    )


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def field_of(location: Sequence[int | str]) -> str:
    """`("body", "permissions", 0)` → `permissions.0`; a query or path parameter keeps
    its place (`query.from`), so a client can tell them from body fields."""
    parts = [str(p) for p in location]
    if parts and parts[0] == "body":
        return ".".join(parts[1:]) or "body"
    return ".".join(parts) or "request"


def _errors_of(exc: RequestValidationError) -> list[FieldError]:
    errors = []
    for error in exc.errors():
        location = error.get("loc", ())
        message = str(error.get("msg", "invalid"))
        if error.get("type") == "json_invalid":
            # The location of a JSON syntax error is a character position, not a field.
            reason = (error.get("ctx") or {}).get("error", "")
            location, message = ("body",), f"not valid JSON: {reason}".rstrip(": ")
        errors.append(FieldError(field=field_of(location), message=message))
    return errors


async def _on_problem(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem_response(exc.problem, exc.headers)


# FastAPI's answer to a body it could not read as text (not UTF-8, say): for the
# client that is malformed JSON like any other, so it is a 422 like the others.
_UNREADABLE_BODY = "There was an error parsing the body"


async def _on_http_exception(request: Request, exc: Exception) -> JSONResponse:
    # Routing's 404 and 405 arrive here too; a 405 names every method of the path.
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and exc.detail == _UNREADABLE_BODY:
        return problem_response(_invalid([FieldError(field="body", message="not valid JSON")]))
    title = _phrase(exc.status_code)
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
    if detail is None:
        detail = {404: "no such resource", 405: "method not allowed on this resource"}.get(
            exc.status_code, title
        )
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request) or headers.get("Allow", "")
    return problem_response(Problem(title=title, status=exc.status_code, detail=detail), headers)


_METHODS = ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request) -> str:
    """Every method of the path: routing names only those of the first route that
    matched it, and a path's methods may be spread over several routes. Each method
    is asked of the router on a fresh scope, so nothing of this request's is touched."""
    allowed = []
    for method in _METHODS:
        probe = {
            "type": "http",
            "method": method,
            "path": request.scope["path"],
            "root_path": request.scope.get("root_path", ""),
            "headers": [],
            "query_string": b"",
        }
        if any(route.matches(probe)[0] == Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return ", ".join(allowed)


async def _on_invalid_request(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return problem_response(_invalid(_errors_of(exc)))


def _invalid(errors: list[FieldError]) -> Problem:
    return Problem(
        title="Unprocessable Content",
        status=422,
        detail=f"the request is invalid: {_fields_of(errors)}",
        errors=errors,
    )


async def _on_unhandled(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled_error", method=request.method, path=request.url.path, exc_info=exc)
    return problem_response(
        Problem(
            title="Internal Server Error",
            status=500,
            detail="an unexpected error occurred; it has been logged",
        )
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_exception_handler(RequestValidationError, _on_invalid_request)
    app.add_exception_handler(Exception, _on_unhandled)


_DESCRIPTIONS = {
    401: "Missing, malformed, forged or expired bearer token",
    403: "The account may not do this",
    404: "No such resource",
    409: "The action conflicts with the resource's state",
    412: "If-Match names another version than the resource's (its ETag)",
    413: "The request body is larger than the limit",
    422: "The request is invalid; `errors` lists every field",
    429: "Too many requests from this seller; retry after `Retry-After` seconds",
    500: "An unexpected error (logged)",
    503: "A dependency is unavailable; retry later",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for problems (media type fixed by `as_problem_media`)."""
    return {
        status: {"model": Problem, "description": _DESCRIPTIONS.get(status, _phrase(status))}
        for status in statuses
    }


def as_problem_media(openapi: dict[str, Any]) -> dict[str, Any]:
    """FastAPI documents every response model as application/json; error answers are
    application/problem+json, so move their schemas there."""
    for path in openapi.get("paths", {}).values():
        for operation in path.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if status[:1] in {"4", "5"} and "application/json" in content:
                    content[PROBLEM_MEDIA_TYPE] = content.pop("application/json")
    return openapi
