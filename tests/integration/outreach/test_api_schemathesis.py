"""Schemathesis generates requests from /openapi.json against the real stack (uvicorn on
loopback, the plan processor, Kafka, Redis): none may answer 5xx."""

from __future__ import annotations

import asyncio
import re
import shutil
import sys
from pathlib import Path
from typing import Any

from demo.sample_status import sample_status
from services.shared.settings import Settings
from tests.integration.outreach.plans_api import plans_api, utc_now
from tests.integration.outreach.processor_support import OUTREACH_TOPICS

TOPICS = (*OUTREACH_TOPICS, "crm.seller-accounts", "crm.appeals", "crm.segments")
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


async def test_generated_requests_never_get_a_server_error(
    settings: Settings, topics: Any, redis_url: str, test_id: str, tmp_path: Path
) -> None:
    assert SCHEMATHESIS.exists() or shutil.which("schemathesis"), "schemathesis is a dev dependency"
    await topics(*TOPICS)
    async with plans_api(settings.model_copy(update={"redis_url": redis_url})) as api:
        seller = f"s{test_id}"
        await api.set_status(sample_status(seller, weekly_quota=1000, occurred_at=utc_now()))
        token = api.auth(seller)["Authorization"]
        # The quota port restores a fresh prefix from the topics on first use (seconds on a
        # loaded host): done here, not inside a generated request's 20 s timeout.
        warm = await api.client.get(
            "/v1/shop/status", headers={"Authorization": token}, timeout=120
        )
        assert warm.status_code == 200, warm.text
        base_url = str(api.client.base_url).rstrip("/")
        run = await asyncio.create_subprocess_exec(
            str(SCHEMATHESIS),
            "run",
            f"{base_url}/openapi.json",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "25",
            "--seed",
            "20261122",
            "--header",
            f"Authorization: {token}",
            "--request-timeout",
            "20",
            "--workers",
            "1",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=tmp_path,
        )
        output, _ = await asyncio.wait_for(run.communicate(), timeout=600)
    report = output.decode(errors="replace")
    assert run.returncode == 0, report[-6000:]
    # It really exercised the API: hundreds of generated requests checked.
    checked = re.search(r"(\d+) generated, (\d+) passed", report)
    assert checked, report[-3000:]
    generated, passed = int(checked.group(1)), int(checked.group(2))
    assert generated == passed >= 300, report[-3000:]
