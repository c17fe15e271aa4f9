"""The API's side of request and reply with the plan processor.

A command goes to crm.plan-commands with a fresh correlation id; the answer comes back
on crm.plan-replies, which every API process reads whole (no consumer group) from the
end it found at start. Only committed answers are read, so an answer always describes a
change that is in crm.plan-events.
"""

from __future__ import annotations

import asyncio
import contextlib
from uuid import UUID

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from schemas.plans import PlanCommandAnswered
from schemas.topics import topic
from services.outreach.handlers import PlanCommand
from services.shared.codec import DecodeError, decode, encode
from services.shared.kafka import new_consumer, new_producer
from services.shared.settings import Settings

log = structlog.get_logger(__name__)


class ReplyTimeout(Exception):
    """The processor did not answer in time; the command may still be applied later."""


class PlanGateway:
    def __init__(self, settings: Settings, *, timeout: float) -> None:
        self.settings = settings
        self.timeout = timeout
        self._replies = settings.topic("crm.plan-replies")
        self._waiting: dict[UUID, asyncio.Future[PlanCommandAnswered]] = {}
        self.producer: AIOKafkaProducer = new_producer(settings, linger_ms=0)
        self.consumer: AIOKafkaConsumer = new_consumer(settings, isolation_level="read_committed")
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.producer.start()
        await self.consumer.start()
        tps = [
            TopicPartition(self._replies, p) for p in range(topic("crm.plan-replies").partitions)
        ]
        self.consumer.assign(tps)
        await self.consumer.seek_to_end(*tps)
        # Resolve the end positions now: an answer to a command sent after start must
        # not be skipped by a lazy seek.
        for tp in tps:
            await self.consumer.position(tp)
        self._task = asyncio.create_task(self._read_replies())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.consumer.stop()
        await self.producer.stop()

    @property
    def ready(self) -> bool:
        return self._task is not None and not self._task.done()

    async def send(self, command: PlanCommand) -> PlanCommandAnswered:
        """Send a command and wait for its answer; ReplyTimeout after `timeout` seconds."""
        answer: asyncio.Future[PlanCommandAnswered] = asyncio.get_running_loop().create_future()
        self._waiting[command.correlation_id] = answer
        try:
            # Bounded too: with the broker away aiokafka would retry for 40 s and more;
            # the command may still go out later, as with a late answer (503, read first).
            await asyncio.wait_for(
                self.producer.send_and_wait(
                    self.settings.topic("crm.plan-commands"),
                    encode(command),
                    key=command.seller_id.encode(),
                ),
                self.timeout,
            )
            return await asyncio.wait_for(answer, self.timeout)
        except TimeoutError:
            raise ReplyTimeout(command.correlation_id) from None
        finally:
            self._waiting.pop(command.correlation_id, None)

    async def _read_replies(self) -> None:
        while True:
            batch = await self.consumer.getmany(timeout_ms=1000)
            for records in batch.values():
                for record in records:
                    try:
                        reply = decode("crm.plan-replies", record.value)
                    except DecodeError as exc:
                        log.error("plan_reply_unreadable", offset=record.offset, error=exc.reason)
                        continue
                    assert isinstance(reply, PlanCommandAnswered)
                    waiting = self._waiting.get(reply.correlation_id)
                    if waiting is not None and not waiting.done():
                        waiting.set_result(reply)
