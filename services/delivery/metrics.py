"""Delivery's Prometheus metrics (served on the worker's /metrics)."""

from prometheus_client import Counter, Gauge, Histogram

SENT = Counter(
    "crm_delivery_sent_total", "Messages committed to crm.outbound-messages", ["plan_type"]
)
SUPPRESSED = Counter(
    "crm_delivery_suppressed_total", "Recipients not sent to, by reason", ["plan_type", "reason"]
)
FANOUT_RECIPIENTS = Gauge(
    "crm_delivery_fanout_recipients", "Recipients of the fan-out in progress (0: none)"
)
FANOUT_HANDLED = Gauge(
    "crm_delivery_fanout_handled", "Recipients of the fan-out in progress handled so far"
)
FANOUTS_COMPLETED = Counter("crm_delivery_fanouts_completed_total", "Plans fanned out completely")
TRANSACTIONS_ABORTED = Counter(
    "crm_delivery_transactions_aborted_total",
    "Delivery batches abandoned (Kafka or Redis failed) and redone from what committed",
)
CHUNK_SECONDS = Histogram(
    "crm_delivery_chunk_seconds",
    "One fan-out chunk: suppression checks, encoding and its committed transaction",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
