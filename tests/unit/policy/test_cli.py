"""`crm policy show [--market M] [--json]` prints the policy in force and its version."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from services.policy import DEFAULT_POLICY, load_policy
from services.policy.cli import register
from services.shared.settings import get_settings

pytestmark = pytest.mark.unit

app = typer.Typer()
register(app)


@pytest.fixture
def policy_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """CRM_POLICY names a book whose Vietnam caps at one message a week."""
    path = tmp_path / "policy.toml"
    path.write_text(DEFAULT_POLICY.read_text() + "\n[markets.VN.frequency_cap]\nmax_messages = 1\n")
    monkeypatch.setenv("CRM_POLICY", str(path))
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


def _show(*arguments: str) -> dict:  # type: ignore[type-arg]
    result = CliRunner().invoke(app, ["policy", "show", *arguments, "--json"])
    assert result.exit_code == 0, result.output
    shown: dict = json.loads(result.output)  # type: ignore[type-arg]
    return shown


def test_json_shows_the_default_policy_and_its_version(policy_file: Path) -> None:
    version = load_policy().version
    shown = _show()
    assert (shown["version"], shown["market"], shown["overridden_markets"]) == (
        version,
        None,
        ["VN"],
    )
    assert shown["policy"]["frequency_cap"] == {"max_messages": 2, "window_days": 7}
    assert shown["policy"]["eligibility"]["ses_min"] == 3.5
    assert shown["policy"]["quota"]["weekly"]["2"] == 3


def test_a_market_shows_its_overrides(policy_file: Path) -> None:
    shown = _show("--market", "VN")
    assert shown["version"] == f"{load_policy().version}+VN"
    assert shown["policy"]["frequency_cap"] == {"max_messages": 1, "window_days": 7}
    assert _show("--market", "TH")["policy"]["frequency_cap"]["max_messages"] == 2


def test_tables_name_the_version_and_every_rule(policy_file: Path) -> None:
    result = CliRunner().invoke(app, ["policy", "show", "--market", "VN"])
    assert result.exit_code == 0, result.output
    assert f"policy {load_policy().version}+VN for VN" in result.output
    for heading in ("eligibility", "level table", "frequency cap", "response_rate_12h"):
        assert heading in result.output
    assert "7 days" in result.output


def test_an_unknown_market_or_a_bad_book_is_refused(
    policy_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    unknown = CliRunner().invoke(app, ["policy", "show", "--market", "XX"])
    assert unknown.exit_code == 2
    assert "unknown market" in unknown.output
    policy_file.write_text(
        DEFAULT_POLICY.read_text().replace("max_messages = 2", "max_messages = 0")
    )
    refused = CliRunner().invoke(app, ["policy", "show"])
    assert refused.exit_code == 1
    assert "max_messages" in refused.output
