"""CampaignAnnounced (crm.campaigns): the project's example passes, impossible campaigns
are refused with the field to fix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from schemas.campaigns import CampaignAnnounced
from schemas.topics import adapter_for, key_of, topic

pytestmark = pytest.mark.unit

EXAMPLE = json.loads(
    (Path(__file__).resolve().parents[3] / "schemas" / "examples" / "campaigns.jsonl")
    .read_text(encoding="utf-8")
    .splitlines()[0]
)


def _with(**fields: Any) -> str:
    return json.dumps({**EXAMPLE["value"], **fields})


def test_the_example_is_a_campaign_keyed_by_its_id() -> None:
    event = adapter_for("crm.campaigns").validate_json(json.dumps(EXAMPLE["value"]))

    assert isinstance(event, CampaignAnnounced)
    assert key_of(event) == EXAMPLE["key"] == event.campaign_id
    assert (event.markets, event.plans_per_seller) == (["TH", "ID", "MY"], 2)
    spec = topic("crm.campaigns")
    assert (spec.direction, spec.key_field, spec.retention_ms) == ("in", "campaign_id", -1)


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"ends_at": "2024-07-06T00:00:00+07:00"}, "ends_before_start"),
        ({"ends_at": "2024-07-05T00:00:00+07:00"}, "ends_before_start"),
        ({"markets": []}, "too_short"),
        ({"markets": ["TH", "TH"]}, "duplicate_market"),
        ({"markets": ["XX"]}, "literal_error"),
        ({"plans_per_seller": 0}, "greater_than_equal"),
        ({"plans_per_seller": "2"}, "int_type"),
        ({"starts_at": "2024-07-06T00:00:00"}, "timezone_aware"),
        ({"campaign_id": " padded"}, "untrimmed"),
        ({"name": ""}, "string_too_short"),
    ],
)
def test_an_impossible_campaign_is_refused(fields: dict[str, Any], error: str) -> None:
    with pytest.raises(ValidationError) as refused:
        CampaignAnnounced.model_validate_json(_with(**fields))

    assert error in {e["type"] for e in refused.value.errors()}
