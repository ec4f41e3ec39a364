"""The console's FastAPI application, built by ``create_console_app`` and mounted at ``/console``.

Every response carries a strict Content-Security-Policy: no scripts at all (the console
has none), the one stylesheet allowed by its hash, no framing, forms posting only to
the console's own origin. Jinja2 autoescapes every value; charts are SVG built with
escaped labels (``charts``). Links come from ``request.url_for``, so the app works under
any mount path.

Bad input never reaches a handler as a 500: bodies and query strings are size-limited
(``limits``), a parameter the console cannot use is a 400 page saying which and why
(``params.BadParameter``), and FastAPI's own validation errors (a form field too long, a path
number out of range) are a 422 page that names the fields but never echoes their values (a
password must not come back in an error page).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path

import jinja2
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from supportbot.console import (
    auth,
    pages_auth,
    pages_conversations,
    pages_customers,
    pages_helpcentre,
    pages_inbox,
    pages_insights,
    pages_intelligence,
)
from supportbot.console.limits import MAX_BODY, QueryStringLimit
from supportbot.console.params import BadParameter
from supportbot.console.relay import ConversationRelay
from supportbot.console.stores import Stores
from supportbot.console.takeover import Takeover
from supportbot.console.throttle import SignInGuard
from supportbot.console.web import ConsoleState, Forbidden, NotFound, NotSignedIn, render
from supportbot.settings import Settings

HERE = Path(__file__).resolve().parent


def _csp(css: str) -> str:
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    return "; ".join(
        [
            "default-src 'none'",
            f"style-src 'sha256-{digest}'",
            "img-src 'self' data:",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ]
    )


def _templates() -> Jinja2Templates:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True, undefined=jinja2.StrictUndefined
    )
    return Jinja2Templates(env=environment)


def _takeover(settings: Settings, stores: Stores) -> Takeover:
    """The inbox's way into conversations: Rasa's HTTP API (without ``RASA_API_TOKEN`` every step
    that writes to a conversation says so and changes nothing)."""
    token = settings.rasa_api_token.get_secret_value() if settings.rasa_api_token else None
    return Takeover(sessions=stores.profile, relay=ConversationRelay(base_url=settings.rasa_url, token=token))


def create_console_app(settings: Settings) -> FastAPI:
    """The console as an app of its own, with its engines (``app.state.console.stores``).

    A mounted app gets no lifespan events from its parent, so nothing here waits for one:
    engines connect on first use, and whoever owns the process may call ``stores.dispose()``.
    """
    css = (HERE / "console.css").read_text(encoding="utf-8")
    secret = settings.console_secret.get_secret_value() if settings.console_secret else secrets.token_urlsafe(32)
    stores = Stores.open(database_url=settings.database_url, tracker_url=settings.tracker_store_url)
    app = FastAPI(
        title="Lumen support console", docs_url=None, redoc_url=None, openapi_url=None, max_body_size=MAX_BODY
    )
    app.state.console = ConsoleState(
        settings=settings,
        stores=stores,
        templates=_templates(),
        secret=secret,
        css=css,
        csp=_csp(css),
        sign_in=SignInGuard(),
        takeover=_takeover(settings, stores),
    )
    auth.warm_up()
    app.add_middleware(QueryStringLimit)  # inside the headers middleware below, so its answers get them too

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        extra = getattr(request.state, "csp_extra", None)  # the inbox pages' own script (pages_inbox)
        csp = app.state.console.csp
        response.headers["Content-Security-Policy"] = f"{csp}; {extra}" if extra else csp
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.exception_handler(NotSignedIn)
    async def not_signed_in(request: Request, _error: NotSignedIn) -> Response:
        if request.method == "GET":
            return RedirectResponse(str(request.url_for("login")), status_code=303)
        return PlainTextResponse("sign in first", status_code=401)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, error: Forbidden) -> Response:
        return render(request, "error.html", None, status_code=403, message=str(error))

    @app.exception_handler(NotFound)
    async def not_found(request: Request, error: NotFound) -> Response:
        return render(request, "error.html", None, status_code=404, message=str(error))

    @app.exception_handler(BadParameter)
    async def bad_parameter(request: Request, error: BadParameter) -> Response:
        return render(request, "error.html", None, status_code=400, message=str(error))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> Response:
        names = sorted({str(item["loc"][-1]) for item in error.errors() if item.get("loc")})
        message = f"These values are not acceptable (too long, or not what the form sends): {', '.join(names)}."
        return render(request, "error.html", None, status_code=422, message=message)

    for module in (
        pages_auth,
        pages_conversations,
        pages_insights,
        pages_customers,
        pages_helpcentre,
        pages_inbox,
        pages_intelligence,
    ):
        app.include_router(module.router)
    return app
