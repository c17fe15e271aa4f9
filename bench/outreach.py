"""`crm bench` entries of outreach.

- `kafka_request_reply`: the raw baseline. Plain aiokafka request and reply through an
  echo consumer on this broker, open loop at the same rate: the least a request that
  crosses Kafka twice can cost here.
- `outreach_submit`: POST /v1/plans/{id}/submit over real HTTP to `crm api`, through the
  plan processor (`crm worker outreach`, a Kafka transaction per batch) and the Redis
  quota adapter, open loop at `SUBMIT_RATE` requests per second. Reports p50/p99 and
  the ratio of its p99 to the baseline's.
- `outreach_submit_100`, `outreach_submit_150`: the same at 100 and 150 requests per
  second: where the latency comes from queueing for the machine's two cores (API,
  processor, broker, Redis and this load generator share them) rather than from the
  path itself.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.baselines import percentile
from bench.harness import BenchContext, Benchmark
from demo.sample_status import sample_status
from services.outreach.api.auth import mint_token
from services.quota.adapter import open_quota
from services.shared.kafka import create_topics, delete_topics
from services.shared.settings import Settings
from services.shared.worker_process import WorkerProcess, free_port

SUBMIT_RATE = 200.0
SELLERS = 50
_UNLIMITED = 10**9
BASELINE = "kafka_request_reply"
TOPICS = [
    "crm.plan-commands",
    "crm.plan-events",
    "crm.plan-replies",
    "crm.seller-status",
    "crm.seller-accounts",
    "crm.appeals",
    "crm.campaigns",
    "crm.quota-ledger",
    "crm.dead-letters",
]


def _summary(
    latencies: list[float], elapsed: float, errors: int, rate: float = SUBMIT_RATE
) -> dict[str, Any]:
    latencies.sort()
    return {
        "count": len(latencies),
        "seconds": round(elapsed, 3),
        "per_second": round(len(latencies) / elapsed, 1),
        "rate_offered": rate,
        "errors": errors,
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "max_ms": round(latencies[-1] * 1000, 2),
    }


async def _open_loop(
    count: int, one: Any, rate: float = SUBMIT_RATE
) -> tuple[list[float], float, int]:
    """Start request i at i / rate seconds, whether or not earlier ones finished."""
    latencies: list[float] = []
    errors = 0

    async def timed(i: int, at: float) -> None:
        nonlocal errors
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        started = time.perf_counter()
        try:
            await one(i)
        except Exception:
            errors += 1
            return
        latencies.append(time.perf_counter() - started)

    start = time.perf_counter()
    await asyncio.gather(*(timed(i, start + i / rate) for i in range(count)))
    return latencies, time.perf_counter() - start, errors


async def kafka_request_reply(ctx: BenchContext) -> dict[str, Any]:
    settings = ctx.settings
    names = ["crm.plan-commands", "crm.plan-replies"]
    await create_topics(settings, names)
    requests, replies = (settings.topic(n) for n in names)
    common = {"bootstrap_servers": settings.kafka_bootstrap}
    client = AIOKafkaProducer(**common, acks="all", enable_idempotence=True, linger_ms=0)
    echo_out = AIOKafkaProducer(**common, acks="all", enable_idempotence=True, linger_ms=0)
    # The topics are new: from the earliest offset, no request sent while a consumer was
    # still joining is missed.
    fresh = {"auto_offset_reset": "earliest"}
    echo_in = AIOKafkaConsumer(requests, **common, **fresh, group_id=f"{ctx.run_id}-echo")
    listen = AIOKafkaConsumer(replies, **common, **fresh, group_id=f"{ctx.run_id}-listen")
    waiting: dict[bytes, asyncio.Future[None]] = {}
    for part in (client, echo_out, echo_in, listen):
        await part.start()

    async def echo() -> None:
        async for record in echo_in:
            await echo_out.send(replies, record.value, key=record.key)

    async def collect() -> None:
        async for record in listen:
            future = waiting.pop(record.value or b"", None)
            if future is not None and not future.done():
                future.set_result(None)

    async def one(_: int) -> None:
        token = uuid.uuid4().bytes
        waiting[token] = asyncio.get_running_loop().create_future()
        done = waiting[token]
        await client.send_and_wait(requests, token, key=token[:4])
        await asyncio.wait_for(done, 10)

    tasks = [asyncio.create_task(echo()), asyncio.create_task(collect())]
    try:
        await _wait_assigned(echo_in, listen)
        latencies, elapsed, errors = await _open_loop(int(SUBMIT_RATE * ctx.seconds), one)
    finally:
        for task in tasks:
            task.cancel()
        for part in (client, echo_out, echo_in, listen):
            await part.stop()
        await delete_topics(settings, names)
    return _summary(latencies, elapsed, errors)


async def _wait_assigned(*consumers: AIOKafkaConsumer) -> None:
    for _ in range(200):
        if all(c.assignment() for c in consumers):
            return
        await asyncio.sleep(0.05)
    raise RuntimeError("echo consumers got no partitions")


async def outreach_submit(ctx: BenchContext) -> dict[str, Any]:
    return await _submit_at(ctx, SUBMIT_RATE)


async def outreach_submit_100(ctx: BenchContext) -> dict[str, Any]:
    return await _submit_at(ctx, 100.0)


async def outreach_submit_150(ctx: BenchContext) -> dict[str, Any]:
    return await _submit_at(ctx, 150.0)


async def _submit_at(ctx: BenchContext, rate: float) -> dict[str, Any]:
    settings = ctx.settings
    await create_topics(settings, TOPICS)
    logs = Path(os.environ.get("CRM_STATE_DIR", "/tmp")) / f"bench-{ctx.run_id}"
    logs.mkdir(parents=True, exist_ok=True)
    api_port = free_port()
    worker = WorkerProcess("outreach", settings, logs / "outreach.log", CRM_LOG_LEVEL="WARNING")
    api = _ApiProcess(settings, logs / "api.log", api_port)
    count = int(rate * ctx.seconds)
    try:
        async with open_quota(settings) as quota:
            sellers = [f"bench-{ctx.run_id}-{n}" for n in range(SELLERS)]
            for offset, seller in enumerate(sellers):
                status = sample_status(seller, level=5, weekly_quota=_UNLIMITED)
                await quota.store.put_status(status, offset)
            await quota.rebuilder.rebuild_if_lost()
        worker.start()
        api.start()
        await worker.wait_ready()
        await api.wait_ready()
        headers = {s: {"Authorization": f"Bearer {_token(settings, s)}"} for s in sellers}
        # aiohttp as the load generator: lighter on CPU per request than httpx, and
        # on two cores every cycle the client burns is taken from the system measured.
        connector = aiohttp.TCPConnector(limit=400)
        async with aiohttp.ClientSession(
            f"http://127.0.0.1:{api_port}", connector=connector
        ) as http:
            plans = await _drafts(http, sellers, headers, count)

            async def submit(i: int) -> None:
                seller, plan_id = plans[i]
                async with http.post(
                    f"/v1/plans/{plan_id}/submit", headers=headers[seller]
                ) as response:
                    body = await response.json()
                if response.status != 200 or body["status"] != "scheduled":
                    raise RuntimeError(str(body))

            latencies, elapsed, errors = await _open_loop(count, submit, rate)
    finally:
        api.stop()
        worker.stop()
        await delete_topics(settings, TOPICS)
    result = _summary(latencies, elapsed, errors, rate)
    raw = ctx.results.get(BASELINE, {}).get("p99_ms")
    if raw:
        # Lower is better here: the ratio is how many raw round trips a submit's p99 is.
        result.update(ratio=round(result["p99_ms"] / raw, 2), baseline=BASELINE)
    result["goal_p99_ms"] = 100
    return result


async def _drafts(
    http: aiohttp.ClientSession, sellers: list[str], headers: dict[str, dict[str, str]], count: int
) -> list[tuple[str, str]]:
    send_at = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    body = {
        "type": "one_time",
        "name": "Bench",
        "segment_id": "repeat_customers",
        "content": {"default_language": "en", "texts": {"en": "Hello {customer_name}"}},
        "send_at": send_at,
    }
    made: list[tuple[str, str]] = []
    gate = asyncio.Semaphore(32)

    async def one(i: int) -> None:
        seller = sellers[i % len(sellers)]
        for _ in range(30):
            async with gate, http.post("/v1/plans", json=body, headers=headers[seller]) as r:
                if r.status == 503:  # busy (a rebuild, a stall): as a client would, later
                    retry_after = float(r.headers.get("Retry-After", "1"))
                else:
                    r.raise_for_status()
                    made.append((seller, (await r.json())["plan_id"]))
                    return
            await asyncio.sleep(retry_after)
        raise RuntimeError("the API answered 503 to a draft for 30 tries")

    await asyncio.gather(*(one(i) for i in range(count)))
    return made


def _token(settings: Settings, seller: str) -> str:
    return mint_token(
        settings.jwt_secret.get_secret_value(),
        seller_id=seller,
        account_id=f"{seller}-owner",
        role="owner",
        ttl=timedelta(hours=1),
        now=datetime.now(UTC),
    )


class _ApiProcess(WorkerProcess):
    """`crm api` on a given port, ready when /readyz answers."""

    def __init__(self, settings: Settings, log_path: Path, port: int) -> None:
        super().__init__("api", settings, log_path, CRM_API_PORT=str(port))
        self.env["CRM_OPS_PORT"] = str(port)
        self.command = ["api"]


BENCHMARKS: dict[str, Benchmark] = {
    "kafka_request_reply": kafka_request_reply,
    "outreach_submit": outreach_submit,
    "outreach_submit_100": outreach_submit_100,
    "outreach_submit_150": outreach_submit_150,
}
