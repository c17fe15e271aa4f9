"""Background service processes for `crm dev up`: one pid file and one log per service
under CRM_STATE_DIR (the deploy/ scripts' state directory)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


def state_dir() -> Path:
    default = Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local/state")) / "crm"
    path = Path(os.environ.get("CRM_STATE_DIR", default)) / "services"
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class ServiceProcess:
    name: str
    pid: int | None
    log: Path

    @property
    def running(self) -> bool:
        return self.pid is not None


def _pid_file(name: str) -> Path:
    return state_dir() / f"{name}.pid"


def _alive(pid: int, name: str) -> bool:
    # A stale pid file may name a pid since reused by another program: check the command line.
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return False
    return "crm" in cmdline and name.split(".")[0] in cmdline


def replicas(name: str) -> list[str]:
    """The names of a service's extra replicas with a pid file (`delivery.2`, ...)."""
    return sorted(p.stem for p in state_dir().glob(f"{name}.*.pid"))


def status(name: str) -> ServiceProcess:
    log = state_dir() / f"{name}.log"
    try:
        pid = int(_pid_file(name).read_text().strip())
    except (OSError, ValueError):
        return ServiceProcess(name, None, log)
    return ServiceProcess(name, pid if _alive(pid, name) else None, log)


def start(name: str, args: list[str], env: dict[str, str] | None = None) -> ServiceProcess:
    """Run `crm <args>` detached, unless `name` already runs."""
    current = status(name)
    if current.running:
        return current
    crm = Path(sys.executable).with_name("crm")
    with current.log.open("ab") as log:
        process = subprocess.Popen(
            [str(crm), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
    _pid_file(name).write_text(str(process.pid))
    return ServiceProcess(name, process.pid, current.log)


def stop(name: str, timeout: float = 15.0) -> bool:
    """SIGTERM, then SIGKILL after `timeout`. True when something was stopped."""
    current = status(name)
    if current.pid is None:
        _pid_file(name).unlink(missing_ok=True)
        return False
    os.killpg(current.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(current.pid, name):
        time.sleep(0.2)
    if _alive(current.pid, name):
        os.killpg(current.pid, signal.SIGKILL)
    _pid_file(name).unlink(missing_ok=True)
    return True
