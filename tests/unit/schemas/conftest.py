"""Fixtures over the shared example events (SPEC section 6): one valid value of each event."""

import json
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
EXAMPLES_FILE = REPO_ROOT / ".." / "shared" / "examples" / "events.jsonl"
MISSING_EXAMPLES = (
    f"{EXAMPLES_FILE.resolve()} is missing: the schema tests check every SPEC example; "
    "clone the spec's shared/ directory beside the repository"
)


def _read_examples() -> list[dict[str, Any]]:
    if not EXAMPLES_FILE.is_file():
        return []
    lines = EXAMPLES_FILE.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # A test asking for `example_line` runs once per line of events.jsonl; with
    # the file missing it still runs once, and fails, rather than vanishing.
    if "example_line" in metafunc.fixturenames:
        lines: list[dict[str, Any] | None] = [*_read_examples()] or [None]
        ids = [line["value"]["event_type"] if line else "events.jsonl-missing" for line in lines]
        metafunc.parametrize("example_line", lines, ids=ids, indirect=True)


@pytest.fixture
def example_line(request: pytest.FixtureRequest) -> dict[str, Any]:
    """One line of events.jsonl: {"topic", "key", "value"}."""
    if request.param is None:
        pytest.fail(MISSING_EXAMPLES)
    line: dict[str, Any] = request.param
    return line


@pytest.fixture(scope="session")
def examples() -> dict[str, dict[str, Any]]:
    """Every example line by its event_type."""
    lines = _read_examples()
    if not lines:
        pytest.fail(MISSING_EXAMPLES)
    return {line["value"]["event_type"]: line for line in lines}


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT
