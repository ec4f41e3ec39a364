"""Signing in and out.

The sign-in form has no session yet to carry a CSRF token, so it uses a double submit: a
random nonce in a short-lived HttpOnly cookie and the same nonce signed (itsdangerous,
with the console secret) in the form; both must agree, so another site cannot sign a
browser in to an account of its choosing.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from supportbot.console.auth import StaffUser, authenticate, end_session, start_session
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

router = APIRouter()
LOGIN_FORM_MAX_AGE = 3600


def _serializer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(console(request).secret, salt="console-sign-in")


def _login_page(request: Request, *, error: str = "", status_code: int = 200) -> Response:
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
    return response


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
    with state.stores.profile.begin() as session:
        user = authenticate(session=session, email=email, password=password)
        token = start_session(session=session, user=user, hours=state.settings.console_session_hours) if user else ""
        if user is not None:
            session.add(AuditEntry(actor_id=user.id, action="sign_in"))
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
