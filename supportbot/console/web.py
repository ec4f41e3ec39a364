"""Request plumbing shared by the console's pages: who is signed in, what they may do, CSRF, rendering.

Every route except the sign-in form depends on ``current_user`` (directly or through
``require``/``form_by``), so an anonymous request never reaches a handler; the security
tests walk ``app.routes`` to keep that true for routes added later.
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from supportbot.console import audit_log
from supportbot.console.auth import StaffUser, session_user
from supportbot.console.demo_notice import demo_notice
from supportbot.console.stores import Stores
from supportbot.console.takeover import Takeover
from supportbot.console.throttle import SignInGuard
from supportbot.settings import Settings

SESSION_COOKIE = "lumen_console"
LOGIN_COOKIE = "lumen_console_login"
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")


class NotSignedIn(Exception):
    """No valid session: pages redirect to sign-in, other requests get 401."""


class Forbidden(Exception):
    """Signed in, but the role lacks the permission (or the form token is wrong)."""


class NotFound(Exception):
    """What the request names does not exist (404 page with the message)."""


@dataclass
class ConsoleState:
    settings: Settings
    stores: Stores
    templates: Jinja2Templates
    secret: str
    css: str
    csp: str
    sign_in: SignInGuard
    takeover: Takeover | None = None
    """The agent steps that write to conversations (the inbox, ``create_console_app`` sets it)."""


def console(request: Request) -> ConsoleState:
    state: ConsoleState = request.app.state.console
    return state


def secure_cookies(request: Request) -> bool:
    """Secure unless told otherwise, or plain-HTTP localhost in development (``make run``)."""
    settings = console(request).settings
    if settings.console_secure_cookies is not None:
        return settings.console_secure_cookies
    local = (request.url.hostname or "") in LOCAL_HOSTS and request.url.scheme == "http"
    return not (local and settings.mode == "development")


def cookie_path(request: Request) -> str:
    """The mount's path (``/console``), so the cookie goes nowhere else on the site."""
    return str(request.scope.get("root_path") or "") or "/"


def current_user(request: Request) -> StaffUser:
    token = request.cookies.get(SESSION_COOKIE, "")
    with console(request).stores.profile() as session:
        user = session_user(session=session, token=token)
    if user is None:
        raise NotSignedIn()
    return user


def require(permission: str) -> Callable[[Request], StaffUser]:
    """A dependency: the signed-in user, if their role has ``permission``."""

    def dependency(request: Request) -> StaffUser:
        user = current_user(request)
        if not user.can(permission):
            raise Forbidden(f"your role ({user.role}) may not {permission.replace('_', ' ')}")
        return user

    return dependency


def form_by(permission: str | None) -> Callable[[Request], Awaitable[StaffUser]]:
    """A dependency for state-changing forms: signed in, allowed, and carrying the session's CSRF token."""

    async def dependency(request: Request) -> StaffUser:
        user = current_user(request) if permission is None else require(permission)(request)
        form = await request.form()
        token = form.get("csrf_token")
        if not isinstance(token, str) or not hmac.compare_digest(token.encode(), user.csrf_token.encode()):
            raise Forbidden("the form's security token is missing or wrong; reload the page and try again")
        return user

    return dependency


def audit(request: Request, user: StaffUser, action: str, subject: str = "", **details: Any) -> None:
    """One audit entry; ``subject`` and ``details`` must hold no personal data (``audit_log``)."""
    with console(request).stores.profile.begin() as session:
        session.add(audit_log.entry(actor_id=user.id, action=action, subject=subject, **details))


def render(
    request: Request, template: str, user: StaffUser | None, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    state = console(request)
    return state.templates.TemplateResponse(
        request,
        template,
        {
            "user": user,
            "css": state.css,
            "now": dt.datetime.now(dt.UTC),
            "demo": demo_notice(state.stores.profile),
            **context,
        },
        status_code=status_code,
    )
