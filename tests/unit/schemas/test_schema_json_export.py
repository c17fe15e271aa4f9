"""The committed JSON Schema matches the models and accepts every SPEC example."""

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from schemas.export import SCHEMA_BASE_URL, check_json_schemas, export_json_schemas
from schemas.topics import ALL_TOPICS, event_classes

pytestmark = pytest.mark.unit


def test_committed_json_schemas_match_the_models(repo_root: Path) -> None:
    drifted = check_json_schemas(repo_root / "schemas" / "json")

    assert drifted == [], (
        f"schemas/json is out of date ({', '.join(drifted)}): run `crm schemas export` "
        "and commit the result"
    )


def test_export_writes_one_file_per_event_and_per_topic(tmp_path: Path) -> None:
    written = export_json_schemas(tmp_path)

    names = {path.name for path in written}
    assert {f"{name}.json" for name in event_classes()} <= names
    assert {f"topic.{spec.name}.json" for spec in ALL_TOPICS if spec.event_types} <= names
    assert len(names) == len(event_classes()) + sum(1 for s in ALL_TOPICS if s.event_types)
    text = (tmp_path / "SellerMetricsReported.json").read_text(encoding="utf-8")
    schema = json.loads(text)
    assert text == json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert schema["$id"] == f"{SCHEMA_BASE_URL}SellerMetricsReported.json"
    assert schema["title"] == "SellerMetricsReported"
    assert schema["required"][:4] == ["event_id", "event_type", "schema_version", "occurred_at"]
    topic_schema = json.loads((tmp_path / "topic.crm.seller-metrics.json").read_text())
    assert len(topic_schema["oneOf"]) == 1


def test_check_reports_changed_missing_and_stale_files(tmp_path: Path) -> None:
    export_json_schemas(tmp_path)
    (tmp_path / "ShopBlocked.json").write_text("{}\n")
    (tmp_path / "ShopUnblocked.json").unlink()
    (tmp_path / "Retired.json").write_text("{}\n")

    assert sorted(check_json_schemas(tmp_path)) == [
        "Retired.json",
        "ShopBlocked.json",
        "ShopUnblocked.json",
    ]
    export_json_schemas(tmp_path)
    assert check_json_schemas(tmp_path) == []


def _validator(schema: dict[str, Any]) -> Any:
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def test_json_schemas_accept_the_example(example_line: dict[str, Any], repo_root: Path) -> None:
    directory = repo_root / "schemas" / "json"
    value = example_line["value"]
    event_schema = json.loads((directory / f"{value['event_type']}.json").read_text())
    topic_schema = json.loads((directory / f"topic.{example_line['topic']}.json").read_text())

    assert list(_validator(event_schema).iter_errors(value)) == []
    assert list(_validator(topic_schema).iter_errors(value)) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"event_type": None}, "event_type"),
        ({"extra": {" padded": 1.0}}, "extra"),
        ({"chats_received": "120"}, "chats_received"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_json_schema_refuses_what_the_models_refuse(
    change: dict[str, Any], field: str, examples: dict[str, dict[str, Any]], repo_root: Path
) -> None:
    value = {**examples["SellerMetricsReported"]["value"], **change}
    value = {name: item for name, item in value.items() if item is not None}
    schema = json.loads((repo_root / "schemas" / "json" / "SellerMetricsReported.json").read_text())

    errors = list(_validator(schema).iter_errors(value))

    assert errors, f"JSON Schema accepted a bad {field}"
