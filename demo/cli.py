"""`crm demo`: runs every chapter, in order, against the running stack."""

from __future__ import annotations

import asyncio
import sys

import typer
from rich.console import Console

from services.shared.settings import get_settings

# Piped output (CI logs, files) gets a width that fits the tables instead of 80 columns.
out = Console(width=None if sys.stdout.isatty() else 140)


def register(app: typer.Typer) -> None:
    app.command()(demo)


def demo() -> None:
    """A walk through what runs today: the stack, the topics, valid and refused events, lag."""
    from demo.run import run_demo

    asyncio.run(run_demo(get_settings(), out))
