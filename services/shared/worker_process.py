"""A service worker as a child process (integration tests, benchmarks): start, wait
until /readyz answers, kill -9, stop."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp

from services.shared.settings import Settings

CRM = Path(sys.executable).with_name("crm")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class WorkerProcess:
    """`crm worker NAME` with the given settings; its ops endpoints on a free port."""

    def __init__(self, name: str, settings: Settings, log_path: Path, **env: str) -> None:
        self.name = name
        self.log_path = log_path
        self.env = {
            **os.environ,
            "CRM_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
            "CRM_REDIS_URL": settings.redis_url,
            "CRM_TOPIC_PREFIX": settings.topic_prefix,
            "CRM_OPS_PORT": str(free_port()),
            "CRM_LOG_LEVEL": "INFO",
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None
        self._log_offset = 0
        # `crm` arguments; a subclass may run another long-lived command (`crm api`).
        self.command = ["worker", name]

    def start(self) -> None:
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(CRM), *self.command], stdout=log, stderr=subprocess.STDOUT, env=self.env
            )

    def log(self) -> bytes:
        return self.log_path.read_bytes()[self._log_offset :]

    async def wait_ready(self, timeout: float = 90.0) -> int:
        """The ops port, once /readyz answers 200."""
        deadline = asyncio.get_running_loop().time() + timeout
        port = int(self.env["CRM_OPS_PORT"])
        async with aiohttp.ClientSession() as http:
            while asyncio.get_running_loop().time() < deadline:
                assert self.process is not None
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"{self.name} exited:\n{self.log()[-3000:].decode(errors='replace')}"
                    )
                try:
                    async with http.get(f"http://127.0.0.1:{port}/readyz") as response:
                        if response.status == 200:
                            return port
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.5)
        raise TimeoutError(
            f"{self.name} not ready in {timeout}s:\n{self.log()[-3000:].decode(errors='replace')}"
        )

    def kill9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self, timeout: float = 30.0) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout=10)
