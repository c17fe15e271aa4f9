"""Weekly quota and frequency caps: Redis-enforced, ledgered to Kafka, rebuildable."""
