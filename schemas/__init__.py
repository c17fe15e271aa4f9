"""The contract between services: every Kafka event as a frozen pydantic model.

No Kafka, Redis or faust here; `schemas.topics` is the registry of topics and
their events, `schemas.errors.describe` explains a refused event.
"""
