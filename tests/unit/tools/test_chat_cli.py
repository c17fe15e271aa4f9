"""`crm chat simulate` refuses rates outside 0-1 before it touches Kafka."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from demo.chat_cli import register

pytestmark = pytest.mark.unit

app = typer.Typer()
register(app)


@pytest.mark.parametrize(
    "arguments",
    [
        ["--read", "1.5"],
        ["--click", "-0.1"],
        ["--block", "2"],
        ["--fail", "abc"],
        ["--order", "1.01"],
    ],
)
def test_a_rate_outside_zero_to_one_is_refused(arguments: list[str]) -> None:
    result = CliRunner().invoke(app, ["chat", "simulate", *arguments])
    assert result.exit_code == 2, result.output
    assert arguments[0] in result.output


def test_the_command_is_registered_with_its_rates() -> None:
    result = CliRunner().invoke(app, ["chat", "simulate", "--help"])
    assert result.exit_code == 0, result.output
    for option in ("--read", "--click", "--block", "--fail", "--order", "--currency"):
        assert option in result.output
