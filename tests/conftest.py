"""Fixtures shared by every test. Unit tests never touch the ones that start servers."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The folder is the speed: tests/unit → unit, tests/integration → integration …
    for item in items:
        parts = Path(str(item.fspath)).relative_to(REPO_ROOT / "tests").parts
        if parts and parts[0] in {"unit", "integration", "e2e"}:
            item.add_marker(getattr(pytest.mark, parts[0]))


@pytest.fixture(scope="session")
def examples_path() -> Path:
    path = SHARED / "examples" / "events.jsonl"
    assert path.is_file(), f"{path} is missing: the repo is cloned with shared/ beside it"
    return path
