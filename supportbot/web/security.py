"""Security headers for everything the web process serves.

Two kinds of response:

- pages (the demo host page): a strict Content-Security-Policy that allows scripts
  and styles only from this origin and connections only to this origin and the Rasa
  server the widget talks to; no framing;
- widget assets (``/widget/``): embedded by other sites, so they may be loaded
  cross-origin (``Cross-Origin-Resource-Policy: cross-origin``).

Headers a mounted part sets itself (the console) are left alone.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

BASE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}
PAGE_HEADERS = {
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def socket_sources(url: str) -> list[str]:
    """The CSP sources a browser needs to reach ``url`` over HTTP (polling) and WebSocket."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) URL: {url!r}")
    ws = "wss" if parts.scheme == "https" else "ws"
    return [f"{parts.scheme}://{parts.netloc}", f"{ws}://{parts.netloc}"]


def page_csp(*, rasa_public_url: str) -> str:
    connect = " ".join(["'self'", *socket_sources(rasa_public_url)])
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data: https:",
            f"connect-src {connect}",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


class SecurityHeaders:
    """Pure ASGI middleware (no BaseHTTPMiddleware: it would buffer and break streaming)."""

    def __init__(self, app: ASGIApp, *, csp: str, widget_prefix: str = "/widget/") -> None:
        self.app = app
        self.csp = csp
        self.widget_prefix = widget_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_asset = str(scope.get("path", "")).startswith(self.widget_prefix)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                wanted = dict(BASE_HEADERS)
                if is_asset:
                    wanted["Cross-Origin-Resource-Policy"] = "cross-origin"
                    wanted["Cache-Control"] = "public, max-age=300"
                else:
                    wanted.update(PAGE_HEADERS)
                    wanted["Content-Security-Policy"] = self.csp
                for name, value in wanted.items():
                    if name.lower().encode() not in present:
                        headers.append((name.lower().encode(), value.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)
