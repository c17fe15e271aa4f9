"""Request bodies over a size are refused with 413 (SPEC section 7) before they are read.

A declared Content-Length over the limit is answered at once, without reading a byte
of the body or routing the request. A body without one (chunked) is counted as it is
read, and reading stops at the first chunk that crosses the limit.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.outreach.api.problems import Problem, problem_response


class BodyTooLarge(HTTPException):
    """Raised from `receive`: FastAPI lets HTTPExceptions through its body parsing, so the
    app's problem handler answers it like any other error."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, detail=_detail(max_bytes))


def _detail(max_bytes: int) -> str:
    return f"the request body is larger than {max_bytes} bytes"


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge:
            # Only when it got past the app's own handlers (a middleware reading the body).
            if started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        problem = Problem(title="Content Too Large", status=413, detail=_detail(self.max_bytes))
        # The unread rest of the body is the server's to discard: close the connection.
        response = problem_response(problem, headers={"Connection": "close"})
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    value = Headers(scope=scope).get("content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
