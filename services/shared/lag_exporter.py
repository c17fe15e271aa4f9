"""`crm lag --serve`: consumer lag per group, topic and partition as Prometheus metrics,
under the names kafka-lag-exporter users know (offset lag, estimated time lag, the
per-group maxima and each partition's latest offset).

Every `interval` seconds the exporter reads committed and end offsets (services/shared/
lag.py), adds each partition's end offset to its lookup table (lag_time.py) and
describes the groups for their members; a scrape renders the last poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import structlog
from aiohttp import web
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from services.shared.kafka import admin_client
from services.shared.lag import PartitionLag, consumer_lag
from services.shared.lag_time import LookupTable, lag_seconds
from services.shared.settings import Settings

log = structlog.get_logger(__name__)

PARTITION_LABELS = (
    "cluster_name",
    "group",
    "topic",
    "partition",
    "member_host",
    "consumer_id",
    "client_id",
)


@dataclass(frozen=True)
class Member:
    host: str = ""
    consumer_id: str = ""
    client_id: str = ""


@dataclass
class LagSnapshot:
    """What the last poll saw; a scrape renders it."""

    rows: list[PartitionLag] = field(default_factory=list)
    seconds: dict[tuple[str, str, int], float] = field(default_factory=dict)
    members: dict[tuple[str, str, int], Member] = field(default_factory=dict)
    polled_at: float = math.nan
    kafka_up: bool = False
    poll_seconds: float = math.nan


class LagCollector(Collector):
    def __init__(self, cluster_name: str) -> None:
        self.cluster_name = cluster_name
        self.snapshot = LagSnapshot()
        self.tables: dict[tuple[str, int], LookupTable] = {}

    def observe(
        self,
        rows: list[PartitionLag],
        members: dict[tuple[str, str, int], Member],
        now: float,
        took: float,
    ) -> None:
        """A poll's result: feed the lookup tables, then estimate each row's time lag."""
        seen = {(row.topic, row.partition) for row in rows}
        for gone in self.tables.keys() - seen:  # a deleted topic, a group gone
            del self.tables[gone]
        for row in rows:
            self.tables.setdefault((row.topic, row.partition), LookupTable()).add(row.end, now)
        seconds = {}
        for row in rows:
            table = self.tables[(row.topic, row.partition)]
            position = row.end - row.lag
            seconds[(row.group, row.topic, row.partition)] = lag_seconds(
                table.samples, position, now
            )
        self.snapshot = LagSnapshot(rows, seconds, members, now, True, took)

    def kafka_down(self) -> None:
        self.snapshot.kafka_up = False

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot
        offset = GaugeMetricFamily(
            "kafka_consumergroup_group_offset",
            "The last committed offset of the group on this partition.",
            labels=PARTITION_LABELS,
        )
        lag = GaugeMetricFamily(
            "kafka_consumergroup_group_lag",
            "The partition's latest offset minus the group's committed offset.",
            labels=PARTITION_LABELS,
        )
        lag_s = GaugeMetricFamily(
            "kafka_consumergroup_group_lag_seconds",
            "Estimated seconds since the group's next record was written (interpolated).",
            labels=PARTITION_LABELS,
        )
        group_labels = ["cluster_name", "group", "is_simple_consumer"]
        max_lag = GaugeMetricFamily(
            "kafka_consumergroup_group_max_lag",
            "The group's highest offset lag.",
            labels=group_labels,
        )
        max_lag_s = GaugeMetricFamily(
            "kafka_consumergroup_group_max_lag_seconds",
            "The group's highest estimated time lag.",
            labels=group_labels,
        )
        sum_lag = GaugeMetricFamily(
            "kafka_consumergroup_group_sum_lag",
            "The group's offset lag over all its partitions.",
            labels=["cluster_name", "group"],
        )
        latest = GaugeMetricFamily(
            "kafka_partition_latest_offset",
            "The latest offset of the partition.",
            labels=["cluster_name", "topic", "partition"],
        )
        earliest = GaugeMetricFamily(
            "kafka_partition_earliest_offset",
            "The earliest offset still stored in the partition.",
            labels=["cluster_name", "topic", "partition"],
        )
        by_group: dict[str, list[tuple[int, float]]] = {}
        partitions: dict[tuple[str, int], PartitionLag] = {}
        for row in snap.rows:
            key = (row.group, row.topic, row.partition)
            member = snap.members.get(key, Member())
            labels = [
                self.cluster_name,
                row.group,
                row.topic,
                str(row.partition),
                member.host,
                member.consumer_id,
                member.client_id,
            ]
            seconds = snap.seconds.get(key, 0.0)
            offset.add_metric(labels, math.nan if row.committed is None else row.committed)
            lag.add_metric(labels, row.lag)
            lag_s.add_metric(labels, seconds)
            by_group.setdefault(row.group, []).append((row.lag, seconds))
            partitions[(row.topic, row.partition)] = row
        for group, values in sorted(by_group.items()):
            max_lag.add_metric([self.cluster_name, group, "false"], max(v[0] for v in values))
            max_lag_s.add_metric([self.cluster_name, group, "false"], max(v[1] for v in values))
            sum_lag.add_metric([self.cluster_name, group], sum(v[0] for v in values))
        for (topic, partition), row in sorted(partitions.items()):
            latest.add_metric([self.cluster_name, topic, str(partition)], row.end)
            earliest.add_metric([self.cluster_name, topic, str(partition)], row.start)
        yield from (offset, lag, lag_s, max_lag, max_lag_s, sum_lag, latest, earliest)
        up = GaugeMetricFamily(
            "kafka_lag_exporter_up", "1 when the last poll of Kafka succeeded.", labels=[]
        )
        up.add_metric([], 1.0 if snap.kafka_up else 0.0)
        yield up
        polled = GaugeMetricFamily(
            "kafka_lag_exporter_last_update_timestamp_seconds",
            "When the last successful poll finished (Unix seconds).",
        )
        polled.add_metric([], snap.polled_at)
        yield polled


async def group_members(
    settings: Settings, groups: list[str]
) -> dict[tuple[str, str, int], Member]:
    """(group, topic, partition) -> the member it is assigned to, for groups that use the
    consumer protocol's assignment layout (anything else is left without members)."""
    found: dict[tuple[str, str, int], Member] = {}
    if not groups:
        return found
    async with admin_client(settings) as client:
        responses = await client.describe_consumer_groups(groups)
    for response in responses:
        for group in response.to_object().get("groups", []):
            for member in group.get("members", []):
                try:
                    assignment = ConsumerProtocolMemberAssignment.decode(
                        member["member_assignment"]
                    )
                except Exception:  # another protocol's bytes: no member labels
                    continue
                who = Member(
                    str(member.get("client_host", "")).lstrip("/"),
                    str(member.get("member_id", "")),
                    str(member.get("client_id", "")),
                )
                for topic, partitions in assignment.assignment:
                    for partition in partitions:
                        found[(group["group"], topic, partition)] = who
    return found


async def poll_once(
    settings: Settings, collector: LagCollector, topic_prefix: str | None = None
) -> None:
    started = time.monotonic()
    rows = await consumer_lag(settings, None, topic_prefix)
    groups = sorted({r.group for r in rows})
    try:
        members = await group_members(settings, groups)
    except Exception as exc:  # members are labels, not the measure: keep the lag
        log.warning("lag_members_unknown", error=str(exc))
        members = {}
    collector.observe(rows, members, time.time(), time.monotonic() - started)


async def poll_forever(
    settings: Settings,
    collector: LagCollector,
    interval: float,
    stopping: asyncio.Event,
    topic_prefix: str | None = None,
) -> None:
    while not stopping.is_set():
        try:
            await poll_once(settings, collector, topic_prefix)
        except Exception as exc:
            log.warning("lag_poll_failed", error=str(exc))
            collector.kafka_down()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), interval)


def exporter_app(registry: CollectorRegistry, collector: LagCollector) -> web.Application:
    async def metrics(_: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "service": "lag-exporter"})

    async def readyz(_: web.Request) -> web.Response:
        up = collector.snapshot.kafka_up
        body = {"status": "ready" if up else "not_ready", "checks": {"kafka": up}}
        return web.json_response(body, status=200 if up else 503)

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app


async def serve_lag(
    settings: Settings,
    *,
    host: str,
    port: int,
    interval: float,
    cluster_name: str,
    stopping: asyncio.Event,
    topic_prefix: str | None = None,
) -> None:
    registry = CollectorRegistry()
    collector = LagCollector(cluster_name)
    registry.register(collector)
    runner = web.AppRunner(exporter_app(registry, collector), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    bound = next(iter(runner.addresses), ("", port))[1]
    log.info("lag_exporter_started", host=host, port=bound, interval=interval)
    try:
        await poll_forever(settings, collector, interval, stopping, topic_prefix)
    finally:
        await runner.cleanup()
