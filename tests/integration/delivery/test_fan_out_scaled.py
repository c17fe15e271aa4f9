"""Three `crm worker delivery` processes share the input partitions (a transactional id
per partition, services/shared/transactions.py); one is killed with SIGKILL in the middle
of the work and a fourth joins. A read_committed consumer of crm.outbound-messages sees
each (plan, customer) exactly once and none missing, each plan completes exactly once, and
more than one process did the work."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from schemas.plans import CompletePlan
from services.shared.settings import Settings
from services.shared.worker_process import WorkerProcess
from tests.integration.delivery.support import (
    DELIVERY_TOPICS,
    committed,
    dispatch,
    one_time_plan,
    shop,
)
from tests.integration.delivery.test_fan_out_crash import Topics, _outbound_pairs

pytestmark = pytest.mark.integration

SELLERS = [f"s{n}" for n in range(1, 7)]  # spread over the 6 partitions of plan-events
PER_PLAN = 4_000


async def _handled(port: int) -> float:
    url = f"http://127.0.0.1:{port}/metrics"
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        text = await response.text()
    for line in text.splitlines():
        if line.startswith("crm_delivery_fanout_handled "):
            return float(line.split()[-1])
    return 0.0


async def test_delivery_processes_share_partitions_and_survive_a_kill(
    settings: Settings, topics: Topics, tmp_path: Path
) -> None:
    await topics(*DELIVERY_TOPICS)
    plans = {seller: one_time_plan(f"p-{seller}", seller=seller) for seller in SELLERS}
    customers = {seller: [f"{seller}-c{n:05d}" for n in range(PER_PLAN)] for seller in SELLERS}
    env = {"CRM_DELIVERY_CHUNK_SIZE": "500"}
    workers = [
        WorkerProcess("delivery", settings, tmp_path / f"delivery{n}.log", **env) for n in range(4)
    ]
    async with shop(settings) as store:
        for seller in SELLERS:
            await store.activate(seller)
            await store.members(plans[seller].segment_id, customers[seller], seller=seller)
        for worker in workers[:3]:
            worker.start()
        ports = [await worker.wait_ready() for worker in workers[:3]]
        await asyncio.sleep(5)  # the three joined one group generation
        try:
            await dispatch(settings, *plans.values())
            # Kill whichever process is in the middle of a fan-out.
            victim = None
            for _ in range(3000):
                for n, port in enumerate(ports):
                    if await _handled(port) >= 1000:
                        victim = n
                        break
                if victim is not None:
                    break
                await asyncio.sleep(0.02)
            assert victim is not None, "no fan-out got under way"
            workers[victim].kill9()
            workers[3].start()
            await workers[3].wait_ready()
            commands = await committed(
                settings, "crm.plan-commands", expected=len(SELLERS), wait_s=240
            )
        finally:
            for worker in workers:
                worker.stop()
    completions = [c for c in commands if isinstance(c, CompletePlan)]
    assert sorted(c.plan_id for c in completions) == sorted(p.plan_id for p in plans.values())
    for done in completions:
        assert (done.recipients, done.sent) == (PER_PLAN, PER_PLAN)
    total = PER_PLAN * len(SELLERS)
    seen = await _outbound_pairs(settings, total)
    assert len(seen) == total
    assert set(seen.values()) == {1}
    expected = {(plans[s].plan_id, c) for s in SELLERS for c in customers[s]}
    assert set(seen) == expected
    # The work was shared: more than one process completed a fan-out.
    finishers = [w for w in workers if b"fan_out_completed" in w.log_path.read_bytes()]
    assert len(finishers) >= 2, [w.log_path.name for w in finishers]
