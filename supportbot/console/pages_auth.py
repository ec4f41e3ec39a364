"""Signing in and out.

The sign-in form has no session yet to carry a CSRF token, so it uses a double submit: a
random nonce in a short-lived HttpOnly cookie and the same nonce signed (itsdangerous,
with the console secret) in the form; both must agree, so another site cannot sign a
browser in to an account of its choosing.

Then, before any password is hashed, the attempt must pass the limits per address and overall
and get one of the few hashing slots (``throttle``); refused attempts are answered 429 (too
many) or 503 (busy) with ``Retry-After``. Every attempt that reaches the password check is
audited: successes, failures with their reason, and the lockouts they cause. The entries name
the account by its staff id (the actor) and the address only as a keyed hash.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from supportbot.console import audit_log
from supportbot.console.auth import SignIn, StaffUser, authenticate, end_session, start_session
from supportbot.console.web import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    console,
    cookie_path,
    form_by,
    render,
    secure_cookies,
)
from supportbot.store.console_models import AuditEntry
from supportbot.store.models import utcnow

router = APIRouter()
LOGIN_FORM_MAX_AGE = 3600


def _serializer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(console(request).secret, salt="console-sign-in")


def _login_page(
    request: Request, *, error: str = "", status_code: int = 200, retry_after: float | None = None
) -> Response:
    nonce = secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html",
        None,
        status_code=status_code,
        error=error,
        login_token=_serializer(request).dumps(nonce),
    )
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        max_age=LOGIN_FORM_MAX_AGE,
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request),
        path=cookie_path(request),
    )
    if retry_after is not None:
        response.headers["Retry-After"] = str(max(1, round(retry_after)))
    return response


def _audit_entries(request: Request, outcome: SignIn) -> list[AuditEntry]:
    secret = console(request).secret
    source = audit_log.source_subject(secret, request.client.host if request.client else "")
    if outcome.user is not None:
        return [audit_log.entry(actor_id=outcome.user.id, action="sign_in", source=source)]
    entries = [
        audit_log.entry(actor_id=outcome.account_id, action="sign_in_failed", reason=outcome.failure, source=source)
    ]
    if outcome.locked_until is not None:
        until = outcome.locked_until.isoformat(timespec="seconds")
        entries.append(audit_log.entry(actor_id=outcome.account_id, action="account_locked", until=until))
    return entries


@router.get("/login", response_class=HTMLResponse)
def login(request: Request) -> Response:
    return _login_page(request)


@router.post("/login")
def login_submit(
    request: Request,
    email: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    login_token: Annotated[str, Form(max_length=512)] = "",
) -> Response:
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    try:
        signed = _serializer(request).loads(login_token, max_age=LOGIN_FORM_MAX_AGE)
    except BadSignature:
        signed = None
    if not nonce or not isinstance(signed, str) or not hmac.compare_digest(signed, nonce):
        return _login_page(request, error="The form expired; please sign in again.", status_code=403)
    state = console(request)
    wait = state.sign_in.admit(request.client.host if request.client else "")
    if wait is not None:
        error = "Too many sign-in attempts; wait a few minutes and try again."
        return _login_page(request, error=error, status_code=429, retry_after=wait)
    with state.sign_in.hashing() as slot:
        if not slot:
            error = "The console is busy signing others in; try again in a moment."
            return _login_page(request, error=error, status_code=503, retry_after=5)
        with state.stores.profile.begin() as session:
            outcome = authenticate(session=session, email=email, password=password, now=utcnow())
            user = outcome.user
            hours = state.settings.console_session_hours
            token = start_session(session=session, user=user, hours=hours) if user else ""
            session.add_all(_audit_entries(request, outcome))
    if not token:
        return _login_page(request, error="Wrong email or password (or too many tries: wait a while).", status_code=401)
    response = RedirectResponse(str(request.url_for("kpis")), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=state.settings.console_session_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
        path=cookie_path(request),
    )
    response.delete_cookie(LOGIN_COOKIE, path=cookie_path(request))
    return response


@router.post("/logout")
def logout(request: Request, _user: Annotated[StaffUser, Depends(form_by(None))]) -> Response:
    with console(request).stores.profile.begin() as session:
        end_session(session=session, token=request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse(str(request.url_for("login")), status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=cookie_path(request))
    return response
