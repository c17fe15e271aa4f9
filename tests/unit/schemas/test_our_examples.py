"""The project's own examples (schemas/examples/*.jsonl: the events SPEC names without
giving an example, and fields added since) are accepted as they are, keyed as their
topic says, and read back exactly as written."""

import json
from pathlib import Path
from typing import Any

import pytest

from schemas.customer import CustomerProfileUpdated
from schemas.topics import ANY_EVENT_ADAPTER, adapter_for, key_of

pytestmark = pytest.mark.unit

OUR_EXAMPLES = sorted(
    (Path(__file__).resolve().parents[3] / "schemas" / "examples").glob("*.jsonl")
)
LINES = [
    json.loads(line)
    for path in OUR_EXAMPLES
    for line in path.read_text(encoding="utf-8").splitlines()
    if line.strip()
]


@pytest.mark.parametrize(
    "line", LINES, ids=[f"{n}-{line['value']['event_type']}" for n, line in enumerate(LINES)]
)
def test_our_example_is_accepted_keyed_and_read_back_as_written(line: dict[str, Any]) -> None:
    event = adapter_for(line["topic"]).validate_json(json.dumps(line["value"]))
    assert key_of(event) == line["key"]
    encoded = event.model_dump_json()
    assert ANY_EVENT_ADAPTER.validate_json(encoded) == event
    assert json.loads(encoded).keys() == line["value"].keys()


def test_shop_profile_updated_has_an_example() -> None:
    assert "ShopProfileUpdated" in {line["value"]["event_type"] for line in LINES}


def test_a_profile_without_a_name_reads_back_without_one(
    examples: dict[str, dict[str, Any]],
) -> None:
    # The shared example predates the optional name: it stays valid and unchanged.
    value = examples["CustomerProfileUpdated"]["value"]
    event = CustomerProfileUpdated.model_validate_json(json.dumps(value))
    assert event.name is None
    assert json.loads(event.model_dump_json()).keys() == value.keys()
    named = CustomerProfileUpdated.model_validate_json(json.dumps({**value, "name": "Anna"}))
    assert json.loads(named.model_dump_json())["name"] == "Anna"
    assert CustomerProfileUpdated.model_validate_json(json.dumps({**value, "name": None})) == event
