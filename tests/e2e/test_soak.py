"""The soak in the test command: three minutes of marketplace on a fresh stack of its own
(its own broker, Redis, workers and API on ports nobody else uses), every fault kind
thrown at seeded moments, then every invariant checked on the committed output."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from soak.faults import FAULT_KINDS

CRM = Path(sys.executable).with_name("crm")
# Every fault kind of one broker (stopping one broker of three needs --brokers 3).
FAULTS = os.environ.get(
    "CRM_SOAK_TEST_FAULTS", "kill,broker_restart,redis_restart,flushall,redis_pause"
)
PORTS = ["--kafka-port", "29492", "--redis-port", "26487", "--api-port", "28580"]


@pytest.mark.timeout(1500)
def test_three_minutes_of_faults_break_no_promise(tmp_path: Path) -> None:
    output = tmp_path / "soak.json"
    command = [str(CRM), "soak", "--minutes", "3", "--seed", "19", "--faults", FAULTS]
    command += [*PORTS, "--ops-port-base", "28600", "--output", str(output)]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        printed, _ = process.communicate(timeout=1200)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGTERM)  # the soak then stops its stack
        try:
            printed, _ = process.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            printed, _ = process.communicate()
    text = printed.decode(errors="replace")
    assert output.exists(), f"no report; crm soak printed:\n{text[-5000:]}"
    report = json.loads(output.read_text())
    kinds = {f["kind"] for f in report["faults"]}
    assert kinds == set(FAULTS.split(",")), report["faults"]
    assert kinds <= set(FAULT_KINDS)
    assert not [f for f in report["faults"] if f["error"]], report["faults"]
    killed = {f["target"] for f in report["faults"] if f["kind"] == "kill"}
    assert killed == {"eligibility", "quota", "outreach", "customers", "delivery"}
    # The traffic really ran: plans of every type, messages, blocks.
    statuses = report["plans_by_type_and_status"]
    assert {key.split("/")[0] for key in statuses} == {"one_time", "campaign", "automated"}
    assert report["messages"] > 0
    assert report["block_changes"] > 0
    assert len(report["violations"]) == 9
    assert not any(report["violations"].values()), text[-5000:]
    assert process.returncode == 0, text[-5000:]
