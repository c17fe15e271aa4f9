"""/healthz, /readyz and /metrics of the API process, for orchestrators and Prometheus."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from pydantic import BaseModel

from services.outreach.api.problems import PROBLEM_MEDIA_TYPE, Problem
from services.outreach.api.runtime import Runtime, runtime_of
from services.shared.checks import kafka_check
from services.shared.ops import Health

router = APIRouter(tags=["operations"])


class Liveness(BaseModel):
    status: str
    service: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, bool]


class NotReady(Problem):
    checks: dict[str, bool]


def readiness_checks(runtime: Runtime) -> Health:
    async def redis_answers() -> bool:
        return bool(await runtime.redis.ping())

    async def plan_replies_read() -> bool:
        return runtime.plans.gateway.ready

    health = Health("api")
    health.add_check("kafka", kafka_check(runtime.settings))
    health.add_check("redis", redis_answers)
    health.add_check("plan_replies", plan_replies_read)
    return health


@router.get("/healthz", response_model=Liveness)
async def healthz() -> Liveness:
    """The process answers."""
    return Liveness(status="ok", service="api")


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": NotReady, "description": "A dependency does not answer"}},
)
async def readyz(runtime: Annotated[Runtime, Depends(runtime_of)]) -> Readiness | JSONResponse:
    """Kafka and Redis answer; 503 names the checks that fail."""
    results = await readiness_checks(runtime).readiness()
    failing = sorted(name for name, passed in results.items() if not passed)
    if failing:
        problem = NotReady(
            title="Service Unavailable",
            status=503,
            detail=f"not ready: {', '.join(failing)}",
            checks=results,
        )
        return JSONResponse(
            problem.model_dump(exclude_none=True), status_code=503, media_type=PROBLEM_MEDIA_TYPE
        )
    return Readiness(status="ready", checks=results)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(runtime: Annotated[Runtime, Depends(runtime_of)]) -> Response:
    """Prometheus exposition: request counts and latency by route and status, and the
    quota port's counters."""
    await readiness_checks(runtime).readiness()  # refreshes crm_worker_ready / _check_up
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
