"""Pure quota rules: weeks, limits, reservations, the ledger fold and frequency caps.

No clock, no Redis, no Kafka: times and statuses come in as arguments.
"""
