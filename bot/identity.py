"""Verifying customer tokens inside the Rasa server (rasa environment; plain PyJWT).

A host website vouches for a signed-in customer with a JWT signed with HS256 using
``CUSTOMER_TOKEN_SECRET``; claims ``sub`` (customer id, ``bot.conversation_ids``
pattern), ``aud`` (``CUSTOMER_TOKEN_AUDIENCE``, default ``lumen-support-chat``),
``iat`` and ``exp``, all required, and ``exp`` at most ``MAX_TOKEN_LIFETIME_SECONDS``
after ``iat`` and after now: a token minted for a year is refused, so a leaked one
stops working soon. Minting is done in the app environment (``supportbot.identity``,
which imports these rules); this module only checks.

Verified conversations get sender ids of the form ``cust:<customer id>:<session>``,
anonymous ones ``anon:rest:<session>`` / ``anon:web:<session>``. Only the channels in
``bot.channels`` create sender ids, always through ``conversation_id_for``, so a client
can never pick a ``cust:`` id itself: that prefix is the proof the action server relies on.
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from typing import Optional

import jwt

from bot.conversation_ids import (
    ANONYMOUS_PREFIX,
    ANONYMOUS_REST_PREFIX,
    VERIFIED_PREFIX,
    clean_session,
    is_customer_id,
    verified_conversation,
)
from bot.secret_rules import secret_problem

__all__ = [
    "ANONYMOUS_PREFIX",
    "DEFAULT_AUDIENCE",
    "MAX_TOKEN_LIFETIME_SECONDS",
    "VERIFIED_PREFIX",
    "Identity",
    "conversation_id_for",
    "verify_token",
]

ALGORITHM = "HS256"
DEFAULT_AUDIENCE = "lumen-support-chat"
AUDIENCE_ENV = "CUSTOMER_TOKEN_AUDIENCE"
SECRET_ENV = "CUSTOMER_TOKEN_SECRET"
MAX_TOKEN_LIFETIME_SECONDS = 24 * 3600
"""A customer token is a session credential of the host site: a day at most (README)."""
CLOCK_LEEWAY_SECONDS = 30


class TokenConfigurationError(RuntimeError):
    """The process's own token settings are wrong: it must not start."""


@dataclass(frozen=True)
class Identity:
    customer_id: Optional[str]
    problem: Optional[str] = None
    """Why a token that was sent was not accepted (``expired``, ``invalid``); None if none was sent."""
    expires_at: Optional[int] = None
    """The token's ``exp`` (seconds since the epoch) for a verified identity."""


def secret_from_environment() -> str:
    """``CUSTOMER_TOKEN_SECRET``, checked by the same rules as the app environment's."""
    value = os.environ.get(SECRET_ENV)
    problem = secret_problem(SECRET_ENV, value)
    if problem:
        raise TokenConfigurationError(f"{problem}; export it before `rasa run` (README, 'Customer tokens')")
    return str(value)


def audience_from_environment() -> str:
    return os.environ.get(AUDIENCE_ENV, "").strip() or DEFAULT_AUDIENCE


def verify_token(
    token: object, secret: str, *, audience: Optional[str] = None, now: Optional[float] = None
) -> Identity:
    if token is None or token == "":
        return Identity(None)
    if not isinstance(token, str) or len(token) > 4096:
        return Identity(None, "invalid")
    current = time.time() if now is None else now
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=audience or audience_from_environment(),
            leeway=CLOCK_LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "sub", "aud"], "verify_exp": False, "verify_iat": False},
        )
    except jwt.PyJWTError:
        return Identity(None, "invalid")
    expires, issued = _time(claims.get("exp")), _time(claims.get("iat"))
    if expires is None or issued is None:
        return Identity(None, "invalid")
    if expires <= current - CLOCK_LEEWAY_SECONDS:
        return Identity(None, "expired")
    too_long = expires - issued > MAX_TOKEN_LIFETIME_SECONDS or expires - current > MAX_TOKEN_LIFETIME_SECONDS
    if too_long or issued > current + CLOCK_LEEWAY_SECONDS:
        return Identity(None, "invalid")
    subject = claims.get("sub")
    if not is_customer_id(subject):
        return Identity(None, "invalid")
    return Identity(str(subject), expires_at=int(expires))


def _time(value: object) -> Optional[float]:
    """A NumericDate claim as a number; None for anything else (booleans, text, NaN)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        return None
    return float(value)


def session_part(client_session: object) -> str:
    """The client's own session label, made safe; a fresh random one if it sent none."""
    return clean_session(client_session) or secrets.token_hex(8)


def conversation_id_for(
    identity: Identity, client_session: object, anonymous_prefix: str = ANONYMOUS_REST_PREFIX
) -> str:
    """``cust:<id>:<session>`` for a verified identity, else ``<anonymous_prefix><session>``."""
    session = session_part(client_session)
    if identity.customer_id:
        return verified_conversation(identity.customer_id, session)
    return f"{anonymous_prefix}{session}"
