"""The broker restarts while the plan processor handles submits: `crm worker outreach`
keeps running, redoes what had not committed (services/shared/transactions.py), and every
command is answered exactly once, each submit taking its quota unit once. Runs a broker
of its own on free ports (the shared one is never touched)."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.shared.kafka import create_topics
from services.shared.settings import Settings
from tests.integration.delivery.test_broker_restart import OwnBroker, own_broker
from tests.integration.outreach.processor_support import OUTREACH_TOPICS
from tests.integration.outreach.submits_under_fault import submits_ride_out

pytestmark = pytest.mark.integration
__all__ = ["own_broker"]  # the fixture: a broker of the test's own (never the shared one)


async def test_a_broker_restart_while_submitting_is_ridden_out(
    settings: Settings, own_broker: OwnBroker, redis_url: str, tmp_path: Path
) -> None:
    settings = settings.model_copy(
        update={"kafka_bootstrap": f"localhost:{own_broker.port}", "redis_url": redis_url}
    )
    await create_topics(settings, list(OUTREACH_TOPICS))

    async def restart_broker() -> None:
        # Stopped while the submits are being handled: some batches are mid-transaction.
        own_broker.run("stop")
        own_broker.run("start")

    await submits_ride_out(settings, tmp_path, [f"restart-{n}" for n in range(60)], restart_broker)
