"""The broker restarts while the plan processor handles submits: `crm worker outreach`
keeps running, redoes what had not committed (services/shared/transactions.py), and every
command is answered exactly once, each submit taking its quota unit once. Runs a broker
of its own on free ports (the shared one is never touched)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from demo.sample_status import sample_status
from schemas.plans import CreatePlan, SubmitPlan
from services.shared.kafka import create_topics
from services.shared.settings import Settings
from services.shared.worker_process import WorkerProcess
from tests.integration.delivery.test_broker_restart import OwnBroker, own_broker
from tests.integration.outreach.processor_support import (
    OUTREACH_TOPICS,
    command,
    one_time_draft,
    outreach_stack,
)
from tests.integration.outreach.test_processor_scaled import _publish, _replies

pytestmark = pytest.mark.integration
__all__ = ["own_broker"]  # the fixture: a broker of the test's own (never the shared one)
SELLERS = [f"restart-{n}" for n in range(60)]


async def test_a_broker_restart_while_submitting_is_ridden_out(
    settings: Settings, own_broker: OwnBroker, redis_url: str, tmp_path: Path
) -> None:
    settings = settings.model_copy(
        update={"kafka_bootstrap": f"localhost:{own_broker.port}", "redis_url": redis_url}
    )
    await create_topics(settings, list(OUTREACH_TOPICS))
    log = tmp_path / "outreach.log"
    worker = WorkerProcess("outreach", settings, log)
    draft = one_time_draft(timedelta(hours=3))
    creates = [command(CreatePlan, s, "p1", draft=draft) for s in SELLERS]
    submits = [command(SubmitPlan, s, "p1") for s in SELLERS]
    async with outreach_stack(settings, processor=False) as outreach:
        for seller in SELLERS:
            await outreach.set_status(sample_status(seller, weekly_quota=3))
        worker.start()
        try:
            await worker.wait_ready()
            await _publish(settings, creates)
            await _replies(settings, len(creates))
            await _publish(settings, submits)
            # Stopped while the submits are being handled: some batches are mid-transaction.
            own_broker.run("stop")
            own_broker.run("start")
            replies = await _replies(settings, len(creates) + len(submits))
            usage = {
                s: (await outreach.quota.usage(s, draft.send_at)).used  # type: ignore[arg-type]
                for s in SELLERS
            }
            assert worker.process is not None
            assert worker.process.poll() is None  # still running
        finally:
            worker.stop()
    answered = Counter(r.correlation_id for r in replies)
    assert set(answered) == {c.correlation_id for c in creates + submits}
    assert set(answered.values()) == {1}
    assert {r.outcome for r in replies} == {"applied"}
    assert usage == dict.fromkeys(SELLERS, 1)
