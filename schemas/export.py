"""JSON Schema of every event and topic, for producers in other languages.

The files under schemas/json/ are committed; `check_json_schemas` tells when they
no longer match the models (run `python -m schemas.export` or `crm schemas export`).
"""

import json
from pathlib import Path
from typing import Any

from schemas.topics import ALL_TOPICS, adapter_for, event_classes

SCHEMA_BASE_URL = "https://schemas.crm-broadcast.example/"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
DEFAULT_DIRECTORY = Path(__file__).resolve().parent / "json"


def export_json_schemas(directory: Path) -> list[Path]:
    """Write every schema file, remove ones no longer produced; returns the written paths."""
    directory.mkdir(parents=True, exist_ok=True)
    rendered = _render_all()
    for stale in sorted(directory.glob("*.json")):
        if stale.name not in rendered:
            stale.unlink()
    written = []
    for name, text in rendered.items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def check_json_schemas(directory: Path) -> list[str]:
    """Names of files that are missing, differ from the models or are no longer produced."""
    rendered = _render_all()
    drifted = [
        name
        for name, text in rendered.items()
        if not (directory / name).is_file()
        or (directory / name).read_text(encoding="utf-8") != text
    ]
    drifted += sorted(path.name for path in directory.glob("*.json") if path.name not in rendered)
    return drifted


def _render_all() -> dict[str, str]:
    files = {}
    for event_type, cls in sorted(event_classes().items()):
        name = f"{event_type}.json"
        files[name] = _render(name, event_type, cls.model_json_schema(mode="validation"))
    for spec in ALL_TOPICS:
        if not spec.event_types:
            continue
        name = f"topic.{spec.name}.json"
        schema = adapter_for(spec.name).json_schema(mode="validation")
        key = spec.key_field or "none"
        schema["description"] = f"Values of Kafka topic {spec.name} (key: {key})."
        files[name] = _render(name, spec.name, schema)
    return files


def _render(file_name: str, title: str, schema: dict[str, Any]) -> str:
    schema = {
        **schema,
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": SCHEMA_BASE_URL + file_name,
        "title": title,
    }
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    for exported in export_json_schemas(DEFAULT_DIRECTORY):
        print(exported)
