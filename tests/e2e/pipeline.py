"""Every service as its own process on one test's topics and Redis prefix — eligibility,
quota, outreach, customers, delivery and `crm api` — plus what a test needs to drive
them from outside: publishing upstream events, the seller's HTTP client, waiting."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from schemas.envelope import Event
from schemas.seller import SellerStatusChanged
from schemas.topics import key_of, topic_of
from services import registry
from services.eligibility.reader import latest_status
from services.outreach.api.auth import mint_token
from services.shared import groups
from services.shared.codec import encode
from services.shared.kafka import new_producer
from services.shared.lag import consumer_lag
from services.shared.settings import Settings
from services.shared.worker_process import WorkerProcess, free_port

SERVICES = ("eligibility", "quota", "outreach", "customers", "delivery")


class ApiProcess(WorkerProcess):
    """`crm api` on a free port; it serves its own /readyz there."""

    def __init__(self, settings: Settings, log_path: Path) -> None:
        port = free_port()
        super().__init__("api", settings, log_path, CRM_API_PORT=str(port))
        self.env["CRM_OPS_PORT"] = str(port)
        self.command = ["api"]
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"


@dataclass
class Pipeline:
    settings: Settings
    processes: dict[str, WorkerProcess]
    http: httpx.AsyncClient

    def owner(self, seller: str) -> dict[str, str]:
        token = mint_token(
            self.settings.jwt_secret.get_secret_value(),
            seller_id=seller,
            account_id=f"{seller}-owner",
            role="owner",
            ttl=timedelta(hours=1),
            now=datetime.now(UTC),
        )
        return {"Authorization": f"Bearer {token}"}

    def log_tail(self, service: str, size: int = 4000) -> str:
        """The end of a service's log, for a failure message (CI shows nothing else)."""
        return self.processes[service].log()[-size:].decode(errors="replace")

    async def publish(self, events: Iterable[Event]) -> None:
        """Upstream events, each to its registry topic with its key."""
        producer = new_producer(self.settings)
        await producer.start()
        try:
            sent = []
            for event in events:
                key = key_of(event)
                sent.append(
                    await producer.send(
                        self.settings.topic(topic_of(event.event_type).name),
                        encode(event),
                        key=key.encode() if key is not None else None,
                    )
                )
            await asyncio.gather(*sent)
        finally:
            await producer.stop()

    async def caught_up(
        self,
        service: str,
        group_of: Callable[[Settings], str] | None = None,
        timeout: float = 60.0,
    ) -> None:
        """The service's consumer group (its main one unless `group_of` names another) has
        read everything there is so far."""
        group = (group_of or groups.OF_WORKER[service])(self.settings)

        async def done() -> bool:
            rows = await consumer_lag(self.settings, [group])
            return bool(rows) and all(r.lag == 0 for r in rows)

        assert await eventually(done, timeout), (
            f"{group} did not catch up in {timeout}s; its log ends:\n{self.log_tail(service)}"
        )

    async def status(self, seller: str, month: str, timeout: float = 60.0) -> SellerStatusChanged:
        """The seller's status decided for `month`, once crm.seller-status has it."""

        async def decided() -> SellerStatusChanged | None:
            status = await latest_status(self.settings, seller)
            return status if status and status.effective_month == month else None

        status = await eventually(decided, timeout)
        assert status is not None, (
            f"no {month} status for {seller} in {timeout}s; the eligibility log ends:\n"
            + self.log_tail("eligibility")
        )
        return status

    async def until(
        self, path: str, headers: dict[str, str], ok: Callable[[Any], bool], timeout: float = 60
    ) -> Any:
        """GET `path` until its JSON body satisfies `ok`; that body."""
        last: list[Any] = []

        async def check() -> bool:
            response = await self.http.get(path, headers=headers)
            last[:] = [response.json()]
            return response.status_code == 200 and ok(last[0])

        assert await eventually(check, timeout), f"{path} never got there; last: {last}"
        return last[0]


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 30.0) -> Any:
    """The first truthy result of `check`, or its last result after `timeout`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result or asyncio.get_running_loop().time() > deadline:
            return result
        await asyncio.sleep(0.25)


@asynccontextmanager
async def running_pipeline(settings: Settings, logs: Path) -> AsyncIterator[Pipeline]:
    """Every landed service's worker and the API, ready; all stopped afterwards (a worker
    that did not stop cleanly fails the test, with its log)."""
    landed = [s for s in SERVICES if s in registry.workers()]
    env = {
        "eligibility": {
            # The test ticks by hand: the scheduler would decide the current month early.
            "CRM_ELIGIBILITY_SCHEDULER": "false",
            "CRM_ELIGIBILITY_DATA_DIR": str(logs / "eligibility-data"),
        }
    }
    processes: dict[str, WorkerProcess] = {
        name: WorkerProcess(name, settings, logs / f"{name}.log", **env.get(name, {}))
        for name in landed
    }
    api = ApiProcess(settings, logs / "api.log")
    processes["api"] = api
    for process in processes.values():
        process.start()
    try:
        await asyncio.gather(*(p.wait_ready(timeout=180) for p in processes.values()))
        async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as http:
            yield Pipeline(settings, processes, http)
    finally:
        codes = {name: p.stop() for name, p in processes.items()}
    unclean = {name: code for name, code in codes.items() if code not in (0, None)}
    assert not unclean, "workers did not stop cleanly: " + "; ".join(
        f"{name} exited {code}: {processes[name].log()[-1500:].decode(errors='replace')}"
        for name, code in unclean.items()
    )
