"""Prometheus metrics of the eligibility worker (beside the shared consume counters)."""

from prometheus_client import Counter, Histogram

STATUSES = Counter(
    "crm_eligibility_statuses_total",
    "SellerStatusChanged published, by access and reason.",
    ["access", "reason"],
)
TICKS = Counter(
    "crm_eligibility_ticks_total",
    "EvaluationDue ticks, by market and outcome (accepted, refused).",
    ["market", "outcome"],
)
DECISIONS = Counter(
    "crm_eligibility_decisions_total",
    "Seller statuses published, by market, access and level (none: no level).",
    ["market", "access", "level"],
)
TICK_DECISIONS = Counter(
    "crm_eligibility_tick_decisions_total",
    "Sellers a monthly tick decided, per market (0 added when a partition decides nobody).",
    ["market"],
)
SCHEDULED_TICKS = Counter(
    "crm_eligibility_scheduled_ticks_total", "Ticks the scheduler emitted.", ["market"]
)
EVALUATION_SECONDS = Histogram(
    "crm_eligibility_partition_evaluation_seconds",
    "Time to decide every seller of one partition for one tick.",
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60),
)
