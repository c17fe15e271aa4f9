"""A minimal faust app for the dead-lettering test: valid events are echoed to
`<prefix>echo`, bad ones dead-lettered. Run as `python faust_echo_app.py worker`."""

from __future__ import annotations

import faust

from services.shared.codec import encode
from services.shared.faust_streams import decoded
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


@app.agent(source)
async def ingest(stream):  # type: ignore[no-untyped-def]
    async for event in decoded(stream, "crm.seller-metrics", dead_letters, service="faust-echo"):
        await echo.send(value=encode(event))


if __name__ == "__main__":
    app.main()
