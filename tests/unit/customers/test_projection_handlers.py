"""The projection dispatches by event type through a table: every event its topics carry
has a handler, and nothing else does."""

from __future__ import annotations

import pytest

from schemas.topics import topic
from services.customers.port import InMemoryCustomerStore
from services.customers.projection import TOPICS, CustomerProjection

pytestmark = pytest.mark.unit


def test_every_event_of_the_projection_topics_has_a_handler() -> None:
    projection = CustomerProjection(InMemoryCustomerStore(), None)  # type: ignore[arg-type]
    carried = {event_type for name in TOPICS for event_type in topic(name).event_types}

    assert carried
    assert set(projection.handlers) == carried
