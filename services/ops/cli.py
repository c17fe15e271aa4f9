"""`crm dead-letters list|show|redrive`: parse, hand over to dead_letters.py, print."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from schemas.dead_letter import DeadLetter
from services.ops import dead_letters as dl
from services.ops import replay
from services.shared.clock import utc_now
from services.shared.dead_letter_reasons import letter_reason
from services.shared.settings import get_settings

dead_letters_app = typer.Typer(help="Records the services could not use: list, show, re-drive.")
out = Console(width=None if sys.stdout.isatty() else 160)

TopicOption = Annotated[
    str | None,
    typer.Option("--topic", help="source topic (registry name, e.g. crm.seller-metrics)"),
]
SinceOption = Annotated[
    str | None, typer.Option("--since", help="30m, 2h, 7d ago, or an ISO 8601 time")
]
ReasonOption = Annotated[
    str | None, typer.Option("--reason", help="text in the reason category or the error")
]


def register(app: typer.Typer) -> None:
    app.add_typer(dead_letters_app, name="dead-letters")
    replay.register(app)


def _selected(topic: str | None, since: str | None, reason: str | None) -> list[DeadLetter]:
    settings = get_settings()
    letters = asyncio.run(dl.load_letters(settings))
    moment = dl.parse_since(since, utc_now()) if since else None
    return dl.select(letters, settings, topic=topic, since=moment, reason=reason)


@dead_letters_app.command("list")
def list_letters(
    topic: TopicOption = None,
    since: SinceOption = None,
    reason: ReasonOption = None,
    limit: Annotated[int, typer.Option(help="newest letters shown (counts cover all)")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of tables")] = False,
) -> None:
    """Counts by reason and service, then the newest letters."""
    letters = _selected(topic, since, reason)
    grouped = dl.counts(letters)
    if as_json:
        body = {
            "counts": [
                {"reason": r, "service": s, "count": n} for (r, s), n in grouped.most_common()
            ],
            "letters": [
                {**json.loads(letter.model_dump_json()), "reason": letter_reason(letter)}
                for letter in letters[-limit:]
            ],
        }
        out.print_json(json.dumps(body))
        return
    summary = Table("reason", "service", "count", title=f"{len(letters)} dead letter(s)")
    for (r, s), n in grouped.most_common():
        summary.add_row(r, s, str(n))
    out.print(summary)
    table = Table("id", "at", "source", "service", "reason", "error")
    table.columns[0].no_wrap = True
    for letter in reversed(letters[-limit:]):
        table.add_row(
            str(letter.event_id),
            letter.occurred_at.isoformat(timespec="seconds"),
            f"{letter.source_topic}/{letter.partition}@{letter.offset}",
            letter.service,
            letter_reason(letter),
            letter.error[:120],
        )
    out.print(table)


@dead_letters_app.command("show")
def show(ident: Annotated[str, typer.Argument(help="the dead letter's id (or a prefix)")]) -> None:
    """One letter in full, whether it passes validation today, and whether it was re-driven."""
    settings = get_settings()
    letters = asyncio.run(dl.load_letters(settings))
    letter = dl.find(letters, ident)
    if letter is None:
        out.print(f"no single dead letter with id {ident!r}")
        raise typer.Exit(1)
    verdict = dl.judge(letter, settings, asyncio.run(dl.redriven(settings)))
    body = {
        **json.loads(letter.model_dump_json()),
        "reason": letter_reason(letter),
        "redrive": {"outcome": verdict.outcome, "detail": verdict.detail},
    }
    out.print_json(json.dumps(body))


@dead_letters_app.command("redrive")
def redrive(
    topic: TopicOption = None,
    since: SinceOption = None,
    reason: ReasonOption = None,
    apply: Annotated[
        bool, typer.Option("--apply", help="send them (without it: only say what would be sent)")
    ] = False,
) -> None:
    """Send the selected letters that now pass validation back to their source topic,
    each at most once (a dry run unless --apply)."""
    settings = get_settings()
    letters = _selected(topic, since, reason)
    verdicts = asyncio.run(dl.redrive(settings, letters, apply=apply, now=utc_now()))
    table = Table("id", "source", "outcome", "detail")
    table.columns[0].no_wrap = True
    for v in verdicts:
        source = f"{v.letter.source_topic}/{v.letter.partition}@{v.letter.offset}"
        table.add_row(str(v.letter.event_id), source, v.outcome, v.detail[:100])
    out.print(table)
    ready = sum(v.outcome == "redrive" for v in verdicts)
    done = sum(v.outcome == "done" for v in verdicts)
    invalid = len(verdicts) - ready - done
    verb = "re-driven" if apply else "would be re-driven (dry run; --apply sends them)"
    out.print(f"{ready} {verb}, {done} re-driven before, {invalid} still invalid")
