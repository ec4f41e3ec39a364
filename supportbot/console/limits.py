"""Size limits on what the console reads from a request, before any handler or form parser runs.

Bodies: FastAPI's own ``max_body_size`` (Starlette's body-limit middleware) caps every request
body at ``MAX_BODY``: a declared ``Content-Length`` over it is answered 413 at once, and a body
sent without one (chunked) is counted as it arrives and cut off the same way. Without it
Starlette would parse a url-encoded form of any size into memory, so an anonymous caller
could post megabytes to ``/console/login``. Every console form is a few kilobytes at most (a
note is 4,000 characters).

Query strings have no such setting, so ``QueryStringLimit`` (pure ASGI, a few lines) answers
414 when one is longer than ``params.MAX_QUERY_STRING`` bytes.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from supportbot.console.params import MAX_QUERY_STRING

MAX_BODY = 64 * 1024


class QueryStringLimit:
    """ASGI middleware: 414 for an over-long query string."""

    def __init__(self, app: ASGIApp, *, max_length: int = MAX_QUERY_STRING) -> None:
        self.app, self.max_length = app, max_length

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and len(scope.get("query_string", b"")) > self.max_length:
            body = f"the query string is longer than {self.max_length} bytes".encode()
            headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": 414, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)
