"""The soak's own stack: Kafka (one broker, or deploy/kafka/cluster.sh's three) and Redis
started by the deploy/ scripts under a state directory of its own, on ports of its own,
and every worker and `crm api` as child processes (services/shared/worker_process.py),
so that faults can be thrown at each of them and nothing shared is touched."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from services import registry
from services.shared.kafka import create_topics, wait_for_kafka
from services.shared.settings import Settings
from services.shared.worker_process import WorkerProcess

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


@dataclass(frozen=True)
class Ports:
    # Below the ephemeral range (32768-60999): a port there may be taken at any moment
    # as the local end of some outgoing connection, and a restarted worker fail to bind.
    kafka: int = 29392
    redis: int = 26387
    api: int = 28480
    ops_base: int = 28500
    """Each worker's ops port: this plus the worker's offset (as CRM_OPS_PORT_BASE)."""


class ApiProcess(WorkerProcess):
    """`crm api`, serving its own /readyz on its port."""

    def __init__(self, settings: Settings, log_path: Path, port: int) -> None:
        super().__init__("api", settings, log_path, CRM_API_PORT=str(port), CRM_OPS_PORT=str(port))
        self.command = ["api"]


class Stack:
    def __init__(
        self, state_dir: Path, ports: Ports, brokers: int, prefix: str, jwt_secret: str
    ) -> None:
        self.state_dir = state_dir
        self.ports = ports
        self.brokers = brokers
        hosts = [f"127.0.0.1:{ports.kafka + 2 * n}" for n in range(brokers)]
        self.settings = Settings(
            kafka_bootstrap=",".join(hosts),
            redis_url=f"redis://127.0.0.1:{ports.redis}/0",
            topic_prefix=prefix,
            api_port=ports.api,
            kafka_replication_factor=3 if brokers == 3 else 1,
            jwt_secret=jwt_secret,
        )
        self.logs = state_dir / "logs"
        self.processes: dict[str, WorkerProcess] = {}
        self.restarting: set[str] = set()

    def _env(self) -> dict[str, str]:
        return {
            **os.environ,
            "CRM_STATE_DIR": str(self.state_dir),
            "CRM_KAFKA_BOOTSTRAP": f"127.0.0.1:{self.ports.kafka}",
            "CRM_REDIS_URL": self.settings.redis_url,
            "CRM_KAFKA_HEAP_OPTS": os.environ.get("CRM_SOAK_KAFKA_HEAP_OPTS", "-Xms128m -Xmx256m"),
        }

    async def script(self, *args: str) -> None:
        """A deploy/ script, without blocking the traffic that goes on meanwhile."""
        process = await asyncio.create_subprocess_exec(
            str(DEPLOY / args[0]),
            *args[1:],
            env=self._env(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await process.communicate()
        if process.returncode:
            raise RuntimeError(f"{' '.join(args)} failed:\n{output.decode(errors='replace')}")

    async def kafka(self, action: str, node: int | None = None) -> None:
        if self.brokers == 1:
            await self.script("kafka/kafka.sh", action)
        elif node is None:
            await self.script("kafka/cluster.sh", action)
        else:
            await self.script("kafka/cluster.sh", f"{action}-node", str(node))

    async def up(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        await asyncio.gather(self.kafka("start"), self.script("redis/redis.sh", "start"))
        await wait_for_kafka(self.settings)
        # Every topic, the eligibility app's own too, before any worker subscribes.
        await create_topics(self.settings)
        env = {
            "eligibility": {
                # The soak ticks by hand, like `crm evaluate`.
                "CRM_ELIGIBILITY_SCHEDULER": "false",
                "CRM_ELIGIBILITY_DATA_DIR": str(self.state_dir / "eligibility-data"),
            }
        }
        for name in registry.workers():
            port = registry.ops_port(name, self.ports.ops_base)
            self.processes[name] = WorkerProcess(
                name,
                self.settings,
                self.logs / f"{name}.log",
                CRM_OPS_PORT=str(port),
                CRM_OPS_PORT_BASE=str(self.ports.ops_base),
                CRM_KAFKA_REPLICATION_FACTOR=str(self.settings.kafka_replication_factor),
                CRM_JWT_SECRET=self.settings.jwt_secret.get_secret_value(),
                **env.get(name, {}),
            )
        self.processes["api"] = ApiProcess(self.settings, self.logs / "api.log", self.ports.api)
        self.processes["api"].env["CRM_JWT_SECRET"] = self.settings.jwt_secret.get_secret_value()
        for process in self.processes.values():
            process.start()
        await asyncio.gather(*(p.wait_ready(timeout=240) for p in self.processes.values()))

    async def restart(self, name: str) -> None:
        """kill -9, then start again and wait until ready (what a supervisor does)."""
        process = self.processes[name]
        self.restarting.add(name)
        try:
            await asyncio.to_thread(process.kill9)
            process.start()
            await process.wait_ready(timeout=240)
        finally:
            self.restarting.discard(name)

    async def supervise(self, stop: asyncio.Event, exits: list[dict[str, object]]) -> None:
        """A supervisor: a process that exited on its own (not killed by a fault) is
        recorded and started again."""
        started = asyncio.get_running_loop().time()
        while not stop.is_set():
            for name, process in self.processes.items():
                code = None if process.process is None else process.process.poll()
                if code is None or name in self.restarting:
                    continue
                at = round(asyncio.get_running_loop().time() - started, 1)
                exits.append({"service": name, "at": at, "code": code})
                self.restarting.add(name)
                try:
                    process.start()
                    await process.wait_ready(timeout=240)
                except Exception:  # tried again on the next turn
                    pass
                finally:
                    self.restarting.discard(name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 2)

    async def redis_cli(self, *args: str) -> None:
        process = await asyncio.create_subprocess_exec(
            "redis-cli", "-p", str(self.ports.redis), *args, stdout=asyncio.subprocess.DEVNULL
        )
        await process.wait()

    def down(self, keep: bool) -> dict[str, int | None]:
        codes = {name: p.stop() for name, p in self.processes.items()}
        return codes

    async def stop_infra(self, keep_state: bool) -> None:
        await asyncio.gather(self.kafka("stop"), self.script("redis/redis.sh", "stop"))
        if not keep_state:
            shutil.rmtree(self.state_dir, ignore_errors=True)
