"""`crm chat simulate`: the marketplace chat system, simulated, reacting to what delivery
sends. Parses, hands over to `chat_simulator.simulate_chat`, prints progress."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections import Counter
from typing import Annotated

import typer
from rich.console import Console

from demo.chat_simulator import TOPICS, ChatSimulator, simulate_chat
from services.delivery.domain.reactions import ReactionRates
from services.shared.clock import utc_now
from services.shared.kafka import create_topics, wait_for_kafka
from services.shared.logs import configure_logging
from services.shared.settings import Settings, get_settings

out = Console(width=None if sys.stdout.isatty() else 140)
chat_app = typer.Typer(help="The marketplace chat system, simulated.")
PROGRESS_SECONDS = 5.0


def register(app: typer.Typer) -> None:
    app.add_typer(chat_app, name="chat")


@chat_app.command("simulate")
def simulate(
    read: Annotated[float, typer.Option(min=0.0, max=1.0, help="share of delivered read")] = 0.45,
    click: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="share of read messages with a button clicked")
    ] = 0.10,
    block: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="share of delivered prompting a block")
    ] = 0.002,
    fail: Annotated[float, typer.Option(min=0.0, max=1.0, help="share never delivered")] = 0.0,
    order: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="share of clicks that lead to an order")
    ] = 0.20,
    currency: Annotated[str, typer.Option(help="currency of the simulated orders")] = "THB",
) -> None:
    """React to every committed OutboundMessage as the chat system would: delivered, read,
    clicked, blocked, failed, ordered — decided per message_id, the same on every run.
    Runs until Ctrl-C."""
    settings = get_settings()
    configure_logging("chat-simulator", settings.log_level, "console")
    rates = ReactionRates(read=read, click=click, block=block, fail=fail, order=order)
    counts = asyncio.run(_simulate(settings, rates, currency))
    out.print(f"stopped; {_line(counts)}")


async def _simulate(settings: Settings, rates: ReactionRates, currency: str) -> Counter[str]:
    await wait_for_kafka(settings)
    await create_topics(settings, TOPICS)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    running: list[ChatSimulator] = []
    out.print(f"simulating the chat system with {rates.model_dump()}; Ctrl-C stops")

    async def report() -> None:
        while not stop.is_set():
            await asyncio.sleep(PROGRESS_SECONDS)
            if running:
                out.print(_line(running[0].counts))

    reporter = asyncio.create_task(report())
    try:
        # The command line is the edge where the wall clock is read.
        return await simulate_chat(
            settings,
            rates,
            stop=stop,
            clock=utc_now,
            currency=currency,
            on_start=running.append,
        )
    finally:
        reporter.cancel()


def _line(counts: Counter[str]) -> str:
    names = (
        "messages",
        "MessageDelivered",
        "MessageRead",
        "MessageClicked",
        "ShopBlocked",
        "MessageFailed",
        "OrderPlaced",
    )
    return ", ".join(f"{name} {counts[name]:,}" for name in names)
