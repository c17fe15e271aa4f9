"""The broker restarts in the middle of a fan-out: `crm worker delivery` keeps running,
recovers (services/shared/transactions.py) and every (plan, customer) is still sent
exactly once. Runs a broker of its own on free ports (the shared one is never touched).
(The producer often rides a restart out with its own retries; when a transaction fails,
the batch is redone from what committed.)"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.shared.kafka import create_topics
from services.shared.settings import Settings
from services.shared.worker_process import WorkerProcess, free_port
from tests.integration.delivery.support import (
    DELIVERY_TOPICS,
    committed,
    completion,
    dispatch,
    one_time_plan,
    pairs,
    shop,
    when_handled,
)

pytestmark = pytest.mark.integration

KAFKA_SH = Path(__file__).parents[3] / "deploy" / "kafka" / "kafka.sh"
RECIPIENTS = 40_000


class OwnBroker:
    def __init__(self, state: Path) -> None:
        self.port = free_port()
        self.env = {
            **os.environ,
            "CRM_STATE_DIR": str(state),
            "CRM_KAFKA_BOOTSTRAP": f"localhost:{self.port}",
            "CRM_KAFKA_CONTROLLER_PORT": str(free_port()),
        }

    def run(self, action: str) -> None:
        result = subprocess.run(
            [str(KAFKA_SH), action], env=self.env, capture_output=True, text=True, timeout=180
        )
        assert result.returncode == 0, result.stderr


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[OwnBroker]:
    broker = OwnBroker(tmp_path / "state")
    broker.run("start")
    try:
        yield broker
    finally:
        broker.run("stop")


async def test_a_broker_restart_mid_fan_out_is_ridden_out(
    settings: Settings, own_broker: OwnBroker, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"kafka_bootstrap": f"localhost:{own_broker.port}"})
    await create_topics(settings, list(DELIVERY_TOPICS))
    customers = [f"c{n:05d}" for n in range(RECIPIENTS)]
    log = tmp_path / "delivery.log"
    async with shop(settings) as seller:
        await seller.activate()
        await seller.members("followers_not_purchased", customers)
        worker = WorkerProcess("delivery", settings, log, CRM_DELIVERY_CHUNK_SIZE="1000")
        worker.start()
        try:
            port = await worker.wait_ready()
            await dispatch(settings, one_time_plan("p1"))
            restarted_at = await when_handled(port, 8_000)
            own_broker.run("stop")
            own_broker.run("start")
            done = await completion(settings, "p1")
            messages = await committed(settings, "crm.outbound-messages", expected=RECIPIENTS)
            assert worker.process is not None
            assert worker.process.poll() is None  # still running
        finally:
            worker.stop()
    assert restarted_at < RECIPIENTS  # the broker went away in the middle of the fan-out
    assert pairs(messages) == {("p1", c): 1 for c in customers}
    assert (done.recipients, done.sent) == (RECIPIENTS, RECIPIENTS)
