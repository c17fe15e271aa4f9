"""`crm quota SELLER_ID` and `crm replay` as a user runs them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from demo.sample_status import sample_status
from services.shared.settings import Settings
from tests.integration.quota_support import QUOTA_TOPICS, projecting, redis_quota
from tests.quota_contract import MID_WEEK


def _crm(settings: Settings, redis_url: str, *args: str) -> str:
    env = {
        **os.environ,
        "CRM_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "CRM_REDIS_URL": redis_url,
        "CRM_TOPIC_PREFIX": settings.topic_prefix,
    }
    crm = Path(sys.executable).with_name("crm")
    done = subprocess.run(
        [str(crm), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


async def test_crm_quota_shows_the_week_and_crm_replay_rebuilds_it(
    settings: Settings, topics, redis_url: str, test_id: str, redis_client
) -> None:  # type: ignore[no-untyped-def]
    await topics(*QUOTA_TOPICS)
    seller = f"seller-{test_id}"
    async with redis_quota(settings, redis_url) as quota:
        await projecting(quota)(sample_status(seller, level=3, weekly_quota=5))
        await quota.reserve(seller, "plan-1", "one_time", MID_WEEK)
        await quota.reserve(seller, "plan-2", "one_time", MID_WEEK)

    shown = _crm(settings, redis_url, "quota", seller, "--at", MID_WEEK.isoformat())
    for row, value in [
        ("market", "TH"),
        ("access", "active"),
        ("week", "2024-W27"),
        ("limit", "5"),
        ("used", "2"),
        ("left", "3"),
    ]:
        assert re.search(rf"{row}\s*│\s*{value}\b", shown), shown

    replayed = _crm(settings, redis_url, "replay")
    assert re.search(r"trigger\s*│\s*on_demand", replayed), replayed
    assert re.search(r"ledger_facts\s*│\s*2\b", replayed), replayed
    # Every service's part ran, each through its own replay.py (services/ops/replay.py).
    for projection in ("frequency-cap", "customer", "blocks", "already-messaged", "performance"):
        assert re.search(rf"{projection} events folded\s*│\s*\d+", replayed), replayed
    async with redis_quota(settings, redis_url) as quota:
        usage = await quota.usage(seller, MID_WEEK)
    assert (usage.limit, usage.used) == (5, 2)
