"""The seller-facing HTTP API (SPEC section 7): routers, problem+json errors, metrics.

`build_app(runtime)` serves an open runtime (tests); `served_app(settings)` opens one
in the app's lifespan (`crm api`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from services.outreach.api import accounts, appeals, campaigns, ops, performance, shop, templates
from services.outreach.api.auth import customers_account
from services.outreach.api.body_limit import BodyLimit
from services.outreach.api.limits import ApiLimits
from services.outreach.api.metrics import RequestMetrics
from services.outreach.api.plans import router as plans_router
from services.outreach.api.problems import (
    Problem,
    as_problem_media,
    install_problem_handlers,
    problem_response,
    problem_responses,
)
from services.outreach.api.runtime import Runtime, open_runtime
from services.outreach.api.segments import router as segments_router
from services.outreach.api.throttling import rate_limited
from services.shared.heap import collect_young_garbage_less_often, freeze_what_lives_forever
from services.shared.kafka import ensure_topics
from services.shared.settings import Settings

log = structlog.get_logger(__name__)

TITLE = "CRM Broadcast API"
VERSION = "1.0.0"
UNAVAILABLE = (KafkaConnectionError, KafkaTimeoutError, RedisConnectionError, RedisTimeoutError)
DESCRIPTION = (
    "Seller-facing API of CRM Broadcast. Authenticate with `Authorization: Bearer <JWT>`; "
    "every error is `application/problem+json`."
)


def _assemble(limits: ApiLimits, lifespan: Any = None) -> FastAPI:
    app = FastAPI(
        title=TITLE,
        version=VERSION,
        description=DESCRIPTION,
        lifespan=lifespan,
        responses=problem_responses(413, 500, 503),
    )
    install_problem_handlers(app)
    install_unavailable_handlers(app)
    # Outermost last: metrics see every answer, the 413s of the body limit included.
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes)
    app.add_middleware(RequestMetrics)
    app.include_router(ops.router)
    # Every seller route spends a token of the seller's rate limit.
    limited = [Depends(rate_limited)]
    for seller_router in (
        shop.router,
        templates.router,
        campaigns.router,
        appeals.router,
        accounts.router,
    ):
        app.include_router(seller_router, dependencies=limited, responses=problem_responses(429))
    # Every plan, segment and overview route is a Customers endpoint: a sub-account
    # without `customers` is refused before a handler runs.
    for customers_router in (plans_router, segments_router, performance.router):
        app.include_router(
            customers_router,
            dependencies=[*limited, Depends(customers_account)],
            responses=problem_responses(401, 403, 429),
        )
    _document_problems(app)
    return app


def install_unavailable_handlers(app: FastAPI) -> None:
    """Kafka or Redis not answering is an outage to wait out, not a bug: 503 with
    Retry-After rather than 500."""

    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.warning("dependency_unavailable", path=request.url.path, error=repr(exc))
        runtime: Runtime = request.app.state.runtime
        retry_after = runtime.outreach.retry_after_seconds
        return problem_response(
            Problem(
                title="Service Unavailable",
                status=503,
                detail="a backing service (Kafka or Redis) does not answer; retry later",
            ),
            headers={"Retry-After": str(retry_after)},
        )

    for error in UNAVAILABLE:
        app.add_exception_handler(error, unavailable)


def _document_problems(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = as_problem_media(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def build_app(runtime: Runtime) -> FastAPI:
    """The API over a runtime the caller opened (and closes)."""
    app = _assemble(runtime.limits)
    app.state.runtime = runtime
    return app


# What the API reads (the processor's replies) or writes; each exists before it serves.
API_TOPICS = (
    "crm.plan-commands",
    "crm.plan-replies",
    "crm.seller-accounts",
    "crm.appeals",
    "crm.segments",
)


def served_app(settings: Settings) -> FastAPI:
    """The API opening its own runtime when served and closing it at shutdown."""
    limits = ApiLimits()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await ensure_topics(settings, API_TOPICS, service="api")
        async with open_runtime(settings, limits=limits) as runtime:
            app.state.runtime = runtime
            # Requests make many short-lived objects: with the defaults, full
            # collections walked the whole app again and again, pausing requests.
            collect_young_garbage_less_often()
            freeze_what_lives_forever()
            yield

    return _assemble(limits, lifespan)
