"""Prometheus metrics of the eligibility worker (beside the shared consume counters)."""

from prometheus_client import Counter, Histogram

from schemas.markets import MARKET_TIME_ZONES

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
# Present from the start at 0, so a market's first tick shows as an increase: the alert
# on a tick that decided nobody compares the two.
for _market in MARKET_TIME_ZONES:
    TICKS.labels(_market, "accepted")
    TICK_DECISIONS.labels(_market)
