"""The body limit middleware on a bare ASGI app: a declared Content-Length over the limit
is refused without reading a byte; a chunked body is read only until it crosses it."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from services.outreach.api.body_limit import BodyLimit

LIMIT = 1000
CHUNK = 100


class Reader:
    """An app that reads the whole body, then answers 200 with its size."""

    def __init__(self) -> None:
        self.called = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.called = True
        size = 0
        while True:
            message = await receive()
            size += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(size).encode()})


async def _call(headers: list[tuple[bytes, bytes]], chunks: int) -> tuple[Reader, int, Any, int]:
    app = Reader()
    pulled = 0

    async def receive() -> Message:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": b"x" * CHUNK, "more_body": pulled < chunks}

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/v1/plans", "headers": headers}
    await BodyLimit(app, max_bytes=LIMIT)(scope, receive, send)
    status = sent[0]["status"]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return app, status, body, pulled


async def test_a_declared_length_over_the_limit_is_refused_unread() -> None:
    app, status, body, pulled = await _call([(b"content-length", b"50000000")], chunks=500_000)

    assert (status, pulled, app.called) == (413, 0, False)
    assert json.loads(body)["detail"] == f"the request body is larger than {LIMIT} bytes"


async def test_a_chunked_body_is_read_only_until_it_crosses_the_limit() -> None:
    app, status, _, pulled = await _call([], chunks=500_000)

    assert status == 413
    assert app.called
    assert pulled == LIMIT // CHUNK + 1


async def test_a_body_within_the_limit_reaches_the_app_whole() -> None:
    _, status, body, pulled = await _call([(b"content-length", b"1000")], chunks=10)

    assert (status, body, pulled) == (200, b"1000", 10)
