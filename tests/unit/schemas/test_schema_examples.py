"""Every SPEC example is accepted as it is, keyed as SPEC says, and survives encode/decode."""

import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest
from pydantic import ValidationError

from schemas.customer import OrderPlaced
from schemas.seller import SellerMetricsReported
from schemas.topics import ANY_EVENT_ADAPTER, adapter_for, key_of

pytestmark = pytest.mark.unit


def _meaning(value: Any) -> Any:
    """JSON with timestamps as (instant, offset): "Z" and "+00:00" mean the same."""
    if isinstance(value, dict):
        return {key: _meaning(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_meaning(item) for item in value]
    if isinstance(value, str) and "T" in value:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        return (moment, moment.utcoffset())
    return value


def test_example_is_accepted_on_its_topic_with_its_key(example_line: dict[str, Any]) -> None:
    event = adapter_for(example_line["topic"]).validate_json(json.dumps(example_line["value"]))

    assert event.event_type == example_line["value"]["event_type"]
    assert key_of(event) == example_line["key"]


def test_example_survives_encode_and_decode(example_line: dict[str, Any]) -> None:
    adapter = adapter_for(example_line["topic"])
    event = adapter.validate_json(json.dumps(example_line["value"]))

    encoded = event.model_dump_json()

    assert adapter.validate_json(encoded) == event
    assert ANY_EVENT_ADAPTER.validate_json(encoded) == event
    assert _meaning(json.loads(encoded)) == _meaning(example_line["value"])


def test_occurred_at_keeps_its_utc_offset(examples: dict[str, dict[str, Any]]) -> None:
    value = examples["SellerMetricsReported"]["value"]
    event = SellerMetricsReported.model_validate_json(json.dumps(value))

    decoded = SellerMetricsReported.model_validate_json(event.model_dump_json())

    assert decoded.occurred_at.utcoffset() == timedelta(hours=7)
    assert json.loads(event.model_dump_json())["occurred_at"] == "2024-06-02T02:00:00+07:00"


def test_json_strings_become_uuid_date_and_datetime(examples: dict[str, dict[str, Any]]) -> None:
    value = examples["SellerMetricsReported"]["value"]

    event = SellerMetricsReported.model_validate_json(json.dumps(value))

    assert event.event_id == UUID(value["event_id"])
    assert event.metrics_date == date(2024, 6, 1)
    assert event.occurred_at == datetime(2024, 6, 1, 19, 0, tzinfo=UTC)


def test_integral_json_numbers_are_accepted_for_float_fields(
    examples: dict[str, dict[str, Any]],
) -> None:
    value = {**examples["OrderPlaced"]["value"], "gmv": 499}

    event = OrderPlaced.model_validate_json(json.dumps(value))

    assert event.gmv == 499.0
    assert isinstance(event.gmv, float)


def test_events_are_built_in_python_with_envelope_defaults() -> None:
    event = SellerMetricsReported(
        event_id=UUID("5ab1068b-7d9d-5c30-b8e9-c00f26afe057"),
        occurred_at=datetime(2024, 6, 2, 2, tzinfo=timezone(timedelta(hours=7))),
        seller_id="seller-th-001",
        market="TH",
        metrics_date=date(2024, 6, 1),
        chats_received=120,
        chats_responded_12h=111,
        ses=None,
        violation_points=0,
    )

    assert (event.event_type, event.schema_version, event.extra) == ("SellerMetricsReported", 1, {})
    assert key_of(event) == "seller-th-001"


def test_events_are_frozen(examples: dict[str, dict[str, Any]]) -> None:
    event = SellerMetricsReported.model_validate_json(
        json.dumps(examples["SellerMetricsReported"]["value"])
    )

    with pytest.raises(ValidationError, match="frozen"):
        event.chats_received = 1  # type: ignore[misc]
