"""/healthz, /readyz and /metrics for any worker, served by aiohttp.

Liveness says the process is serving; readiness runs the named checks (Kafka
reachable, partitions assigned, Redis answering …) and answers 503 naming those
that fail, so an orchestrator stops routing to a worker that cannot work.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from services.shared.metrics import CHECK_UP, WORKER_READY
from services.shared.projection_guard import rebuilding_now

Check = Callable[[], Awaitable[bool]]


@dataclass
class Health:
    service: str
    checks: dict[str, Check] = field(default_factory=dict)
    check_timeout: float = 2.0

    _refreshing: asyncio.Task[dict[str, bool]] | None = field(default=None, init=False)
    _refreshed: bool = field(default=False, init=False)

    def add_check(self, name: str, check: Check) -> None:
        self.checks[name] = check

    async def refresh(self) -> None:
        """Run the checks for their gauges: the first time awaited, later in the
        background unless a run is already under way."""
        if self._refreshing is not None and not self._refreshing.done():
            return
        self._refreshing = asyncio.create_task(self.readiness())
        if not self._refreshed:
            self._refreshed = True
            await self._refreshing

    async def readiness(self) -> dict[str, bool]:
        async def run(check: Check) -> bool:
            try:
                return bool(await asyncio.wait_for(check(), self.check_timeout))
            except Exception:
                return False

        results = dict(
            zip(
                self.checks,
                await asyncio.gather(*(run(c) for c in self.checks.values())),
                strict=True,
            )
        )
        # Kept as gauges too, so Prometheus can alert on a dependency that does not answer.
        for name, passed in results.items():
            CHECK_UP.labels(self.service, name).set(1 if passed else 0)
        WORKER_READY.labels(self.service).set(1 if all(results.values()) else 0)
        return results


def ops_app(health: Health, registry: CollectorRegistry = REGISTRY) -> web.Application:
    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "service": health.service})

    async def readyz(_: web.Request) -> web.Response:
        results = await health.readiness()
        # A projection being rebuilt after Redis lost it is named, with its progress.
        rebuilding = rebuilding_now()
        ready = all(results.values()) and not rebuilding
        body: dict[str, object] = {"status": "ready" if ready else "not_ready", "checks": results}
        if rebuilding:
            body["rebuilding"] = rebuilding
        return web.json_response(body, status=200 if ready else 503)

    async def metrics(_: web.Request) -> web.Response:
        # crm_worker_ready and crm_worker_check_up are refreshed by the checks: awaited
        # at the first scrape, then run beside the scrapes (one run at a time), so a
        # scrape never waits for a slow check (an admin client listing topics, a 2 s
        # timeout) and keeps the gauges one scrape old at most.
        await health.refresh()
        return web.Response(
            body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app


async def start_ops_server(health: Health, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Start serving; returns the runner (call .cleanup()) and the bound port."""
    runner = web.AppRunner(ops_app(health), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    # Port 0 asks the OS for a free port; report the one actually bound.
    bound = next(iter(runner.addresses), ("", port))[1]
    return runner, int(bound)
