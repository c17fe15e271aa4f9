"""Eligibility's rules: pure functions over frozen models; no Kafka, faust or clock."""
