from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import structlog

from services.shared.logs import configure_logging, get_logger


@pytest.fixture(autouse=True)
def _structlog_config_restored() -> Iterator[None]:
    # configure_logging points structlog at the sys.stderr of the moment, which capsys
    # closes after the test: later tests in the same session must not log into it.
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


def test_json_lines_carry_the_service_and_bound_record_context(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("eligibility", "INFO", "json")
    with structlog.contextvars.bound_contextvars(topic="crm.seller-metrics", partition=2, offset=7):
        get_logger("t").info("handled", seller_id="s-1")
    get_logger("t").debug("hidden")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert len(lines) == 1
    assert lines[0] | {"timestamp": None} == {
        "event": "handled",
        "level": "info",
        "service": "eligibility",
        "seller_id": "s-1",
        "topic": "crm.seller-metrics",
        "partition": 2,
        "offset": 7,
        "timestamp": None,
    }
