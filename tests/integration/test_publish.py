"""`crm publish` refuses bad lines with their line number, and then sends nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from aiokafka import TopicPartition

from services.shared.kafka import new_consumer
from services.shared.settings import Settings
from tests.malformed import CASES, metrics

LINE_CASES = [c for c in CASES if c.line and c.raw is not None]


def _crm(
    settings: Settings, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CRM_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "CRM_TOPIC_PREFIX": settings.topic_prefix,
    }
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


async def _count(settings: Settings, topic: str) -> int:
    """Records in the topic: the sum of its partitions' end offsets (no waiting)."""
    consumer = new_consumer(settings)
    await consumer.start()
    try:
        physical = settings.topic(topic)
        partitions = [TopicPartition(physical, p) for p in range(partitions_of(topic))]
        return sum((await consumer.end_offsets(partitions)).values())
    finally:
        await consumer.stop()


def partitions_of(topic: str) -> int:
    return 1  # the tests below create their topics with one partition


def test_at_least_15_kinds_of_bad_input_are_covered() -> None:
    assert len(LINE_CASES) >= 15


@pytest.mark.parametrize("case", LINE_CASES, ids=[c.name for c in LINE_CASES])
async def test_bad_line_refused_and_file_not_sent(
    settings: Settings,
    topics,
    tmp_path: Path,
    case,  # type: ignore[no-untyped-def]
) -> None:
    await topics("crm.seller-metrics", "crm.chat-engagement", partitions=1)
    assert case.raw is not None
    lines = [json.dumps(metrics()), case.line_text(), json.dumps(metrics())]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = _crm(settings, "publish", "--file", str(path))
    assert result.returncode == 1, result.stdout + result.stderr
    message = " ".join(result.stderr.split())
    assert "line 2:" in message
    assert case.reason.lower() in message.lower(), message
    assert "nothing sent" in message
    assert await _count(settings, "crm.seller-metrics") == 0
    assert await _count(settings, "crm.chat-engagement") == 0


async def test_skip_invalid_sends_the_valid_lines(
    settings: Settings,
    topics,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    await topics("crm.seller-metrics", partitions=1)
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join([json.dumps(metrics()), "{not json", json.dumps(metrics())]))
    result = _crm(settings, "publish", "--file", str(path), "--skip-invalid")
    assert result.returncode == 0, result.stderr
    assert "line 2: invalid JSON" in result.stderr
    assert await _count(settings, "crm.seller-metrics") == 2


async def test_publish_from_flags_fills_the_envelope(
    settings: Settings,
    topics,  # type: ignore[no-untyped-def]
) -> None:
    await topics("crm.evaluation-ticks", partitions=1)
    result = _crm(
        settings, "publish", "--type", "EvaluationDue", "market=TH", "effective_month=2024-07"
    )
    assert result.returncode == 0, result.stderr
    assert await _count(settings, "crm.evaluation-ticks") == 1
    refused = _crm(
        settings, "publish", "--type", "EvaluationDue", "market=TH", "effective_month=2024-13"
    )
    assert refused.returncode == 1
    assert "effective_month" in refused.stderr
