"""Prometheus metrics of the segment recompute (beside services/shared/metrics.py's)."""

from prometheus_client import Counter, Histogram

SELLER_RECOMPUTES = Counter(
    "crm_segment_recomputes_total",
    "Sellers whose segment memberships were recomputed, skipped or failed.",
    ["market", "outcome"],
)
SELLER_RECOMPUTE_SECONDS = Histogram(
    "crm_segment_recompute_seconds",
    "One seller's recompute: scan, judge and write its memberships.",
    ["market"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
CUSTOMERS_JUDGED = Counter(
    "crm_segment_customers_judged_total",
    "Relationships judged by segment recomputes.",
    ["market"],
)
DAILY_RUNS = Counter(
    "crm_segment_daily_runs_total",
    "Daily recompute runs: at a market's midnight, or catching up at start.",
    ["market", "trigger"],
)
DAILY_RUN_SECONDS = Histogram(
    "crm_segment_daily_run_seconds",
    "One daily run over every seller of a market.",
    ["market", "trigger"],
    buckets=(0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600),
)
UNDECODABLE = Counter(
    "crm_segment_undecodable_total",
    "Stored relationships a recompute or preview could not decode and left out.",
)
