"""The eligibility faust app: its topics, tables and short agents.

    seller-metrics, chat-engagement, shop-blocks, appeals ──► tables (per seller)
    evaluation-ticks ──► fan out one EvaluatePartition per partition ──► decide the
    partition's sellers of that market ──► crm.seller-status

Ticks are keyed by market on a one-partition topic, while seller state is spread over
six partitions; the fan-out lets each partition's owner decide its own sellers and
write its own changelog partition, as faust requires.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import faust
import structlog
from pydantic import BaseModel, ConfigDict, ValidationError

from schemas.engagement import MessageDelivered, MessageRead, ShopBlocked
from schemas.envelope import Event
from schemas.seller import (
    AppealDecided,
    AppealSubmitted,
    EvaluationDue,
    SellerMetricsReported,
    SellerStatusChanged,
)
from schemas.topics import ELIGIBILITY_APP_ID, FAUST_TOPICS
from schemas.topics import topic as registry_topic
from services.eligibility import metrics
from services.eligibility.config import EligibilitySettings
from services.eligibility.domain.decision import tick_refusal
from services.eligibility.domain.schedule import due_ticks
from services.eligibility.engine import Engine
from services.policy import policy_of
from services.shared.admission import Plausibility
from services.shared.codec import encode
from services.shared.faust_streams import handled, settled
from services.shared.faust_tables import KnownPartitionsTable
from services.shared.partitioning import partition_of
from services.shared.rejection import Rejected
from services.shared.settings import Settings

SERVICE = "eligibility"
# Every topic the worker reads or writes, faust's own included (created before faust
# starts: its consumer would not see a topic created later for 5 minutes).
TOPICS = (
    "crm.seller-metrics",
    "crm.chat-engagement",
    "crm.shop-blocks",
    "crm.appeals",
    "crm.evaluation-ticks",
    "crm.seller-status",
    "crm.dead-letters",
    *(spec.name for spec in FAUST_TOPICS),
)
PARTITIONS = registry_topic("crm.seller-metrics").partitions
log = structlog.get_logger(__name__)


class EvaluatePartition(BaseModel):
    """Internal command: decide this partition's sellers of a market for a month."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    market: str
    effective_month: str
    tick_id: str


@dataclass
class EligibilityApp:
    app: faust.App
    engine: Engine
    status_topic: Any
    ticks_topic: Any


def _utc_now() -> datetime:
    return datetime.now(UTC)


def scheduled_tick(market: str, month: str) -> EvaluationDue:
    return EvaluationDue(
        event_id=uuid.uuid4(),
        occurred_at=_utc_now(),
        market=market,  # type: ignore[arg-type]  # from MARKET_TIME_ZONES
        effective_month=month,
    )


def build_app(
    settings: Settings,
    options: EligibilitySettings | None = None,
    *,
    emitted: set[tuple[str, str]] | None = None,
) -> EligibilityApp:
    """`emitted`: the (market, month) ticks this process already sent (at start)."""
    options = options or EligibilitySettings()
    policies = policy_of(settings)
    app = faust.App(
        settings.topic(ELIGIBILITY_APP_ID),
        broker=";".join(f"kafka://{host}" for host in settings.kafka_bootstrap.split(",")),
        store=options.store,
        datadir=str(options.data_dir),
        web_enabled=False,
        topic_replication_factor=settings.kafka_replication_factor,
        topic_partitions=PARTITIONS,
        topic_allow_declare=True,
        producer_acks=-1,
        consumer_auto_offset_reset="earliest",
        stream_buffer_maxsize=16384,
        broker_max_poll_records=2000,
        Table=KnownPartitionsTable,
    )

    def raw_topic(name: str) -> Any:
        return app.topic(settings.topic(name), value_serializer="raw", key_serializer="raw")

    metrics_in = raw_topic("crm.seller-metrics")
    engagement_in = raw_topic("crm.chat-engagement")
    blocks_in = raw_topic("crm.shop-blocks")
    appeals_in = raw_topic("crm.appeals")
    ticks_in = raw_topic("crm.evaluation-ticks")
    status_out = raw_topic("crm.seller-status")
    dead_letters = raw_topic("crm.dead-letters")
    evaluations = app.topic(
        settings.topic("crm.eligibility-evaluations"),
        partitions=PARTITIONS,
        internal=True,
        value_serializer="raw",
        key_serializer="raw",
    )

    def table(name: str) -> Any:
        return app.Table(name, partitions=PARTITIONS, key_type=str)

    engine = Engine(
        sellers=table("sellers"),
        tallies=table("tallies"),
        messages=table("messages"),
        policies=policies,
        clock=_utc_now,
    )

    async def publish(statuses: Iterable[SellerStatusChanged]) -> None:
        # Wait for the broker's ack before the state that says "published" is saved:
        # a crash in between re-publishes the same status (same event_id), never loses it.
        futures = [
            await status_out.send(key=s.seller_id.encode(), value=encode(s)) for s in statuses
        ]
        await asyncio.gather(*futures)
        for s in statuses:
            metrics.STATUSES.labels(s.access, s.reason).inc()
            level = "none" if s.level is None else str(s.level)
            metrics.DECISIONS.labels(s.market, s.access, level).inc()

    async def on_input(event: Event) -> None:
        if isinstance(event, SellerMetricsReported):
            engine.on_metrics(event)
        elif isinstance(event, MessageDelivered):
            engine.on_delivered(event)
        elif isinstance(event, MessageRead):
            engine.on_read(event)
        elif isinstance(event, ShopBlocked) and event.message_id is not None:
            engine.on_engagement(event.seller_id, event.message_id, "blocked", event.occurred_at)
        elif isinstance(event, AppealSubmitted):
            engine.on_appeal_submitted(event)
        elif isinstance(event, AppealDecided):
            outcome = engine.on_appeal_decided(event)
            if outcome.status is not None:
                await publish([outcome.status])
            engine.commit([outcome.state])
        # Clicks, failures, unblocks and unattributed blocks do not feed eligibility.

    admission: dict[str, Any] = {
        "rule": Plausibility.of(settings),
        "max_bytes": settings.max_event_bytes,
    }

    def ingest(topic: Any, name: str) -> None:
        async def agent(stream: Any) -> None:
            await handled(stream, name, dead_letters, on_input, service=SERVICE, **admission)

        agent.__name__ = f"ingest_{name.split('.')[-1].replace('-', '_')}"
        app.agent(topic, name=agent.__name__)(agent)

    ingest(metrics_in, "crm.seller-metrics")
    ingest(engagement_in, "crm.chat-engagement")
    ingest(blocks_in, "crm.shop-blocks")
    ingest(appeals_in, "crm.appeals")

    async def on_tick(event: Event) -> None:
        assert isinstance(event, EvaluationDue)
        refusal = tick_refusal(event.market, event.effective_month, event.occurred_at)
        if refusal is not None:
            log.warning(
                "tick_refused", market=event.market, month=event.effective_month, reason=refusal
            )
            metrics.TICKS.labels(event.market, "refused").inc()
            return
        metrics.TICKS.labels(event.market, "accepted").inc()
        command = (
            EvaluatePartition(
                market=event.market,
                effective_month=event.effective_month,
                tick_id=str(event.event_id),
            )
            .model_dump_json()
            .encode()
        )
        for partition in range(PARTITIONS):
            await evaluations.send(value=command, partition=partition)

    @app.agent(ticks_in, name="fan_out_ticks")
    async def fan_out_ticks(stream: Any) -> None:
        await handled(
            stream, "crm.evaluation-ticks", dead_letters, on_tick, service=SERVICE, **admission
        )

    async def evaluate(raw: bytes, partition: int) -> None:
        try:
            command = EvaluatePartition.model_validate_json(raw)
        except ValidationError as exc:
            raise Rejected(f"not an EvaluatePartition: {exc.errors()[0]['msg']}") from exc
        started = time.perf_counter()
        mine = [k for k in list(engine.sellers.keys()) if partition_of(k, PARTITIONS) == partition]
        changed = engine.evaluate(mine, command.market, command.effective_month)
        await publish([status for _, status in changed])
        engine.commit(state for state, _ in changed)
        metrics.TICK_DECISIONS.labels(command.market).inc(len(changed))
        metrics.EVALUATION_SECONDS.observe(time.perf_counter() - started)
        log.info(
            "partition_evaluated",
            market=command.market,
            month=command.effective_month,
            partition=partition,
            sellers=len(mine),
            published=len(changed),
        )

    @app.agent(evaluations, name="evaluate_partition")
    async def evaluate_partition(stream: Any) -> None:
        async for record in stream.events():
            await settled(
                record.message,
                lambda: evaluate(record.value, record.message.partition),  # noqa: B023
                dead_letters,
                service=SERVICE,
                topic="crm.eligibility-evaluations",
            )

    if options.scheduler:
        sent = emitted if emitted is not None else set()

        @app.timer(options.scheduler_interval_seconds, on_leader=True, name="schedule_ticks")  # type: ignore[untyped-decorator]
        async def schedule_ticks() -> None:
            for market, month in due_ticks(_utc_now(), sent):
                tick = scheduled_tick(market, month)
                await ticks_in.send(key=market.encode(), value=encode(tick))
                sent.add((market, month))
                metrics.SCHEDULED_TICKS.labels(market).inc()
                log.info("tick_scheduled", market=market, month=month)

    return EligibilityApp(app=app, engine=engine, status_topic=status_out, ticks_topic=ticks_in)
