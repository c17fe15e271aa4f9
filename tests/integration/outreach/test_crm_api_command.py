"""`crm api` as a process: it opens its runtime at start-up, answers with tokens that
`crm token` mints, and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from services.shared.settings import Settings
from tests.integration.outreach.support import assert_problem, eventually


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_crm_api_serves_tokens_minted_by_crm_token(
    api_settings: Settings, test_id: str
) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "CRM_KAFKA_BOOTSTRAP": api_settings.kafka_bootstrap,
        "CRM_REDIS_URL": api_settings.redis_url,
        "CRM_TOPIC_PREFIX": api_settings.topic_prefix,
        "CRM_ENV": "test",
        "CRM_JWT_SECRET": f"a-test-secret-of-more-than-32-bytes-{test_id}",
        "CRM_LOG_FORMAT": "console",
    }
    crm = str(Path(sys.executable).with_name("crm"))
    seller = f"seller-{test_id}"
    token = subprocess.run(
        [crm, "token", "--seller", seller, "--ttl", "600"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    server = subprocess.Popen(
        [crm, "api", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:

            async def ready() -> bool:
                try:
                    return (await client.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            assert await eventually(ready, timeout=60), "crm api became ready"
            authorized = {"Authorization": f"Bearer {token}"}
            status = await client.get("/v1/shop/status", headers=authorized)
            assert status.status_code == 200, status.text
            assert status.json()["access"] == "not_enrolled"
            assert_problem(await client.get("/v1/shop/status"), 401)
        server.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(server.wait, 30)
        output = server.stdout.read().decode() if server.stdout else ""
        assert code == 0, output
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
