"""Size limits on what the console reads from a request, before any handler or form parser runs.

Starlette parses a url-encoded form body whole into memory and has no size limit of its own,
so an anonymous caller could post megabytes to ``/console/login``. Every console form is a
few kilobytes at most (a note is 4,000 characters), so bodies are capped at ``MAX_BODY``:
a declared ``Content-Length`` over it is answered 413 at once, and a body sent without one
(chunked) is counted as it arrives and cut off the same way. A query string over
``params.MAX_QUERY_STRING`` bytes is answered 414. Pure ASGI, so the limit holds before
FastAPI reads anything.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from supportbot.console.params import MAX_QUERY_STRING

MAX_BODY = 64 * 1024


class BodyTooLarge(Exception):
    """Raised inside ``receive`` when a body without a declared length grows past the limit."""


async def _refuse(send: Send, status: int, message: str) -> None:
    body = message.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestLimits:
    """ASGI middleware: 414 for an over-long query string, 413 for an over-large body."""

    def __init__(self, app: ASGIApp, *, max_body: int = MAX_BODY, max_query: int = MAX_QUERY_STRING) -> None:
        self.app, self.max_body, self.max_query = app, max_body, max_query

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if len(scope.get("query_string", b"")) > self.max_query:
            await _refuse(send, 414, f"the query string is longer than {self.max_query} bytes")
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and not declared.isdigit():
            await _refuse(send, 400, "the Content-Length header is not a number")
            return
        if declared is not None and int(declared) > self.max_body:
            await _refuse(send, 413, f"the request body is larger than {self.max_body} bytes")
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise BodyTooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _refuse(send, 413, f"the request body is larger than {self.max_body} bytes")
