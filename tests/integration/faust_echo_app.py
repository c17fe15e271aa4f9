"""A minimal faust app for the dead-lettering test: valid events are echoed to
`<prefix>echo`, bad ones dead-lettered, and so is the one its handler keeps failing on
(ses 0.5). Run as `python faust_echo_app.py worker`."""

from __future__ import annotations

import faust

from services.shared.codec import encode
from services.shared.faust_streams import handled
from services.shared.settings import Settings

settings = Settings()
app = faust.App(
    f"{settings.topic_prefix}echo",
    broker=f"kafka://{settings.kafka_bootstrap}",
    store="memory://",
    web_enabled=False,
    topic_replication_factor=1,
    topic_allow_declare=False,
)
source = app.topic(settings.topic("crm.seller-metrics"), value_serializer="raw")
dead_letters = app.topic(settings.topic("crm.dead-letters"), value_serializer="raw")
echo = app.topic(settings.topic("echo"), value_serializer="raw")


async def handle(event):  # type: ignore[no-untyped-def]
    if event.ses == 0.5:
        raise OverflowError("date value out of range")
    await echo.send(value=encode(event))


@app.agent(source)
async def ingest(stream):  # type: ignore[no-untyped-def]
    await handled(
        stream, "crm.seller-metrics", dead_letters, handle, service="faust-echo", delay=0.01
    )


if __name__ == "__main__":
    app.main()
