"""Outreach's Prometheus metrics."""

from prometheus_client import Counter, Histogram

COMMANDS = Counter(
    "crm_plan_commands_total",
    "Plan commands handled, by command and outcome.",
    ["command", "outcome"],
)
PLAN_EVENTS = Counter("crm_plan_events_total", "Plan lifecycle events published.", ["event_type"])
BATCHES_ABORTED = Counter(
    "crm_plan_batches_aborted_total", "Processor transactions aborted (the batch is replayed)."
)
BATCH_SECONDS = Histogram(
    "crm_plan_batch_seconds",
    "One processor batch: handling, quota calls and the committed transaction.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
