"""Request counts and latency of the seller API, by route template and status.

The label is the route's template (`/v1/accounts/{account_id}/permissions`), never the
raw path: ids in paths would make one time series per account.
"""

from __future__ import annotations

from time import perf_counter

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter(
    "crm_api_requests_total",
    "Requests answered by the seller API.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "crm_api_request_duration_seconds",
    "Time from a request's arrival to the end of its answer.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
# Requests that matched no route share one label.
UNMATCHED = "unmatched"


def route_label(scope: Scope) -> str:
    route = scope.get("route")
    return str(getattr(route, "path", UNMATCHED))


class RequestMetrics:
    """ASGI middleware: counts every answer, including the 500 of a crashed route."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        status = 500  # unless the app answers: an exception escaping it becomes a 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = route_label(scope)
            REQUESTS.labels(scope["method"], route, str(status)).inc()
            LATENCY.labels(scope["method"], route).observe(perf_counter() - started)
