"""`crm worker quota` as a process: it projects crm.seller-status into the quota the
reserve script reads, dead-letters bad records, serves /readyz and /metrics, and
stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import redis.asyncio as aioredis

from demo.sample_status import sample_status
from schemas.dead_letter import DeadLetter
from services.shared.codec import decode, encode
from services.shared.kafka import new_producer
from services.shared.settings import Settings
from services.shared.worker_process import WorkerProcess
from tests.integration.kafka_io import read_records
from tests.integration.quota_support import QUOTA_TOPICS, redis_quota
from tests.quota_contract import MID_WEEK


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _eventually(check, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result or asyncio.get_running_loop().time() > deadline:
            return result
        await asyncio.sleep(0.2)


async def test_the_worker_projects_statuses_dead_letters_bad_ones_and_stops_on_sigterm(
    settings: Settings, topics, redis_url: str, test_id: str, redis_client
) -> None:  # type: ignore[no-untyped-def]
    await topics(*QUOTA_TOPICS)
    port = _free_port()
    env = {
        **os.environ,
        "CRM_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "CRM_REDIS_URL": redis_url,
        "CRM_TOPIC_PREFIX": settings.topic_prefix,
        "CRM_OPS_PORT": str(port),
        "CRM_LOG_FORMAT": "console",
    }
    crm = Path(sys.executable).with_name("crm")
    worker = subprocess.Popen(
        [str(crm), "worker", "quota"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    seller = f"seller-{test_id}"
    source = settings.topic("crm.seller-status")
    ops = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}")
    try:

        async def ready() -> bool:
            try:
                return (await ops.get("/readyz")).status_code == 200
            except httpx.TransportError:
                return False

        # Started on a Redis without this prefix's markers: it rebuilt before serving.
        assert await _eventually(ready), "the worker became ready"
        producer = new_producer(settings)
        await producer.start()
        await producer.send_and_wait(source, b'{"event_type": "SellerStatusChanged"}', key=b"x")
        await producer.send_and_wait(
            source, encode(sample_status(seller, weekly_quota=3)), key=seller.encode()
        )
        async with redis_quota(settings, redis_url) as quota:

            async def limit_is(limit: int) -> bool:
                return (await quota.usage(seller, MID_WEEK)).limit == limit

            assert await _eventually(lambda: limit_is(3)), "the worker projected the status"
            assert (await quota.reserve(seller, "plan-1", "one_time", MID_WEEK)).left == 2

            await producer.send_and_wait(
                source,
                encode(sample_status(seller, level=4, weekly_quota=7)),
                key=seller.encode(),
            )
            assert await _eventually(lambda: limit_is(7)), "a level change applies at once"
            assert (await quota.usage(seller, MID_WEEK)).left == 6
        await producer.stop()

        (record,) = await read_records(settings, "crm.dead-letters", count=1)
        letter = decode("crm.dead-letters", record.value)
        assert isinstance(letter, DeadLetter)
        assert (letter.source_topic, letter.offset, letter.service) == (source, 0, "quota")

        readiness = await ops.get("/readyz")
        assert readiness.json()["checks"] == {
            "kafka": True,
            "redis": True,
            "restored": True,
            "seller_status_consumer": True,
        }
        metrics = (await ops.get("/metrics")).text
        assert (
            'crm_events_consumed_total{event_type="SellerStatusChanged",'
            'service="quota",topic="crm.seller-status"} 2.0' in metrics
        )
        assert 'crm_dead_letters_total{service="quota",topic="crm.seller-status"} 1.0' in metrics
        assert 'crm_quota_rebuilds_total{trigger="data_lost"} 1.0' in metrics

        worker.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(worker.wait, 30) == 0
        output = worker.stdout.read().decode() if worker.stdout else ""
        assert "quota_worker_stopped" in output, output[-2000:]
    finally:
        await ops.aclose()
        if worker.poll() is None:
            worker.kill()
            worker.wait()


async def test_a_start_while_redis_stalls_waits_for_redis_instead_of_exiting(
    settings: Settings, topics, redis_url: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    # A Redis blocked by a long command (FLUSHALL of millions of keys) once killed
    # the worker in its start-up reconcile; CLIENT PAUSE outlasts redis-py's 5 s timeout.
    await topics(*QUOTA_TOPICS)
    settings = settings.model_copy(update={"redis_url": redis_url})
    admin = aioredis.Redis.from_url(redis_url)
    try:
        await admin.execute_command("CLIENT", "PAUSE", "7000", "ALL")
    finally:
        await admin.aclose()
    paused_at = asyncio.get_running_loop().time()
    worker = WorkerProcess("quota", settings, tmp_path / "quota.log")
    worker.start()
    try:
        await worker.wait_ready(timeout=90)
        ready_after = asyncio.get_running_loop().time() - paused_at
        assert worker.process is not None
        assert worker.process.poll() is None, "the worker exited"
    finally:
        code = worker.stop()
    log = worker.log().decode(errors="replace")
    assert ready_after >= 6.5, f"ready after {ready_after:.1f}s, while Redis was paused"
    assert "redis_unreachable" in log, log[-2000:]
    assert code == 0, log[-2000:]
