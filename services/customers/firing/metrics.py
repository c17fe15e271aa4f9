"""The firing engine's Prometheus metrics."""

from prometheus_client import Counter, Gauge, Histogram

FIRINGS = Counter(
    "crm_customers_firings_total",
    "Automated-plan firings committed to crm.plan-firings, by trigger type.",
    ["trigger"],
)
SCHEDULED_PAIRS = Gauge(
    "crm_customers_firing_schedule_pairs",
    "(plan, customer) pairs waiting in the firing engine's timetable.",
)
LIVE_PLANS = Gauge(
    "crm_customers_live_automated_plans", "Automated plans the firing engine fires for."
)
TRANSACTIONS_ABORTED = Counter(
    "crm_customers_firing_transactions_aborted_total",
    "Firing passes abandoned (Kafka or Redis away or too slow); their pairs are looked at again.",
)
SCAN_SECONDS = Histogram(
    "crm_customers_firing_scan_seconds",
    "Scanning one seller's relationships for a plan that went live.",
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60),
)
PROJECTION_BEHIND = Gauge(
    "crm_customers_firing_projection_behind_seconds",
    "How far behind the clock the projection's applied events are; firings wait for it.",
)
SEGMENT_JUDGEMENTS = Counter(
    "crm_customers_firing_segment_judgements_total",
    "Due pairs judged against their plan's segment at the due moment: member (fired), "
    "not_member (not fired), market_unknown (looked at again later).",
    ["outcome"],
)
