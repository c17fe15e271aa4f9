"""A sharded fan-out's completion (issue 16): delivery splits a big plan's recipients into
shards, each shard's owner reports its counts with its own CompletePlan, and the plan
completes when every shard has — each shard counted once, whatever the order the reports
arrive in and however often one is read again.

Pure: the reports so far live on the plan (`Plan.shards_reported`), the rule returns the
reports after one more and, once all are in, their sum.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from schemas.plans import CompletePlan, ShardReport


@dataclass(frozen=True)
class Totals:
    recipients: int
    sent: int
    suppressed: dict[str, int]


def report_of(command: CompletePlan) -> ShardReport:
    return ShardReport(
        shard=command.shard,
        recipients=command.recipients,
        sent=command.sent,
        suppressed=dict(command.suppressed),
    )


def with_report(reports: Iterable[ShardReport], report: ShardReport) -> list[ShardReport] | None:
    """The reports with one more, in shard order; None if that shard already reported
    (a report read again changes nothing)."""
    known = list(reports)
    if any(r.shard == report.shard for r in known):
        return None
    return sorted([*known, report], key=lambda r: r.shard)


def all_reported(reports: Iterable[ShardReport], shard_count: int) -> bool:
    return {r.shard for r in reports} >= set(range(shard_count))


def summed(reports: Iterable[ShardReport]) -> Totals:
    """The plan's counts: each shard's once."""
    recipients = sent = 0
    suppressed: Counter[str] = Counter()
    for report in reports:
        recipients += report.recipients
        sent += report.sent
        suppressed.update(report.suppressed)
    return Totals(recipients, sent, dict(suppressed))
