"""The newcomer's path, as the README tells it: on a machine where nothing has run yet,
`crm dev up` then `crm demo` passes the first time and again right after, then
`crm dev down` stops it all.

"Nothing has run yet" is a fresh state directory and fresh ports: the broker has never
been formatted, Redis is empty, no topic exists and no worker ever started, so every
worker starts before, or while, the topics it needs are being created. Only the Kafka
jars (CRM_CACHE_DIR, a cache) are shared with the rest of the session.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from schemas.topics import ALL_TOPICS
from services import registry
from services.shared.kafka import admin_client
from services.shared.settings import Settings

CRM = Path(sys.executable).with_name("crm")
# `crm demo` on a fresh stack took 59-84 s on the 2-core machine while eight other test
# sessions shared it (README "The newcomer's path is a test"): about four times that,
# so load does not fail it, while the 5-minute metadata wait the first run once hit
# (or a chapter stuck until its own timeout) still does.
DEMO_BOUND_SECONDS = 300
# Formatting and starting a broker, Redis and every worker.
DEV_UP_BOUND_SECONDS = 300
DEV_DOWN_BOUND_SECONDS = 180


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_ports() -> dict[str, int]:
    """Kafka, its controller, Redis, the API and a base whose next five ports (the
    workers' ops ports) are free, all away from the defaults and each other."""
    # Below the kernel's ephemeral range (32768-60999), where a client socket could take
    # one of them between this check and the servers' start.
    for base in range(21000 + os.getpid() % 1000 * 10, 32760, 10):
        block = range(base, base + 10)
        if all(_free(port) for port in block):
            return {
                "kafka": base,
                "controller": base + 1,
                "redis": base + 2,
                "api": base + 3,
                # The workers take ops_base + 1 … ops_base + 5.
                "ops_base": base + 4,
            }
    raise RuntimeError("no block of 10 free ports")


def _newcomer_env(state: Path, ports: dict[str, int]) -> dict[str, str]:
    # A newcomer's shell sets no CRM_* variable: drop the test session's (its broker,
    # Redis, topic prefix), keep the jar cache.
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
    if "CRM_CACHE_DIR" in os.environ:
        env["CRM_CACHE_DIR"] = os.environ["CRM_CACHE_DIR"]
    env.update(
        CRM_STATE_DIR=str(state),
        CRM_KAFKA_BOOTSTRAP=f"localhost:{ports['kafka']}",
        CRM_KAFKA_CONTROLLER_PORT=str(ports["controller"]),
        CRM_REDIS_URL=f"redis://localhost:{ports['redis']}/0",
        CRM_API_PORT=str(ports["api"]),
        CRM_OPS_PORT_BASE=str(ports["ops_base"]),
    )
    return env


def _crm(args: list[str], env: dict[str, str], log: Path, timeout: float) -> tuple[int, float]:
    """Run `crm ARGS` with its output in `log`; (exit code, seconds). A run past
    `timeout` is killed with its whole process group and reported as exit -9."""
    started = time.monotonic()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [str(CRM), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = -9
        finally:
            # Past its bound, or the test interrupted (pytest-timeout, Ctrl-C): nothing
            # of it may outlive the test.
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    return code, time.monotonic() - started


def _tail(path: Path, size: int = 4000) -> str:
    return path.read_bytes()[-size:].decode(errors="replace") if path.exists() else "(no log)"


def _kill_leftovers(state: Path) -> list[int]:
    """Whatever `crm dev down` left running of this stack (it should leave nothing):
    the processes of its pid files (services, Kafka, Redis) that still run with this
    state directory in their environment (a stale pid file may name a reused pid)."""
    ours = f"CRM_STATE_DIR={state}".encode()
    killed = []
    for pid_file in state.rglob("*.pid"):
        try:
            pid = int(pid_file.read_text().strip())
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if ours in environ:
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
    return killed


@pytest.fixture
def newcomer(tmp_path: Path) -> Iterator[tuple[dict[str, str], Path]]:
    state = tmp_path / "state"
    env = _newcomer_env(state, _free_ports())
    logs = tmp_path / "logs"
    logs.mkdir()
    try:
        yield env, logs
    finally:
        code, _ = _crm(["dev", "down"], env, logs / "dev-down.log", DEV_DOWN_BOUND_SECONDS)
        leftovers = _kill_leftovers(state)
        assert code == 0, f"crm dev down exited {code}:\n{_tail(logs / 'dev-down.log')}"
        assert leftovers == [], f"crm dev down left these running: {leftovers}"


async def _topics_on(bootstrap: str) -> set[str]:
    async with admin_client(Settings(kafka_bootstrap=bootstrap)) as client:
        return set(await client.list_topics())


def _demo(env: dict[str, str], logs: Path, run: int) -> float:
    """`crm demo`; its time, or a failure with its output and every service's log tail."""
    log = logs / f"demo-{run}.log"
    code, seconds = _crm(["demo"], env, log, DEMO_BOUND_SECONDS)
    services = Path(env["CRM_STATE_DIR"]) / "services"
    service_logs = "\n".join(
        f"--- {name}.log:\n{_tail(services / f'{name}.log', 1500)}"
        for name in [*registry.workers(), *registry.servers()]
    )
    assert code == 0, (
        f"crm demo (run {run}) exited {code} after {seconds:.0f} s "
        f"(bound {DEMO_BOUND_SECONDS} s):\n{_tail(log)}\n{service_logs}"
    )
    return seconds


@pytest.mark.timeout(DEV_UP_BOUND_SECONDS + 2 * DEMO_BOUND_SECONDS + DEV_DOWN_BOUND_SECONDS + 60)
def test_dev_up_then_demo_passes_on_a_machine_where_nothing_ran_yet(
    newcomer: tuple[dict[str, str], Path],
) -> None:
    env, logs = newcomer
    state = Path(env["CRM_STATE_DIR"])
    assert not state.exists()

    code, up_seconds = _crm(["dev", "up"], env, logs / "dev-up.log", DEV_UP_BOUND_SECONDS)
    stack_logs = "\n".join(
        f"--- {path}:\n{_tail(path, 1500)}" for path in sorted(state.rglob("*.log"))
    )
    assert code == 0, f"crm dev up exited {code}:\n{_tail(logs / 'dev-up.log')}\n{stack_logs}"
    # Every topic a worker reads or writes, faust's own included, before any consumes.
    missing = {spec.name for spec in ALL_TOPICS} - asyncio.run(
        _topics_on(env["CRM_KAFKA_BOOTSTRAP"])
    )
    assert missing == set()

    first = _demo(env, logs, 1)
    # And again right after, on the same stack: what a newcomer does next (a worker's
    # first scheduled tick once landed in the second run's eligibility chapter).
    second = _demo(env, logs, 2)
    print(f"crm dev up: {up_seconds:.0f} s; crm demo: {first:.0f} s, then {second:.0f} s")
