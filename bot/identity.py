"""Verifying customer tokens inside the Rasa server (rasa environment).

A host website vouches for a signed-in customer with a JWT (HS256, ``sub`` =
customer id, ``exp`` required) signed with ``CUSTOMER_TOKEN_SECRET``. Minting is
done in the app environment (``supportbot.identity``); this module only checks.

Verified conversations get sender ids of the form ``cust:<customer id>:<session>``
and anonymous ones ``anon:<session>``. Only the channels in ``bot.channels`` create
sender ids, always through ``conversation_id_for``, so a client can never pick a
``cust:`` id itself: that prefix is the proof the action server relies on.
"""

from __future__ import annotations

import secrets
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

__all__ = ["ANONYMOUS_PREFIX", "VERIFIED_PREFIX", "Identity", "conversation_id_for", "verify_token"]


@dataclass(frozen=True)
class Identity:
    customer_id: Optional[str]
    problem: Optional[str] = None
    """Why a token that was sent was not accepted (``expired``, ``invalid``); None if none was sent."""


def verify_token(token: object, secret: str) -> Identity:
    if token is None or token == "":
        return Identity(None)
    if not isinstance(token, str):
        return Identity(None, "invalid")
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["exp", "sub"]})
    except jwt.ExpiredSignatureError:
        return Identity(None, "expired")
    except jwt.PyJWTError:
        return Identity(None, "invalid")
    subject = claims.get("sub")
    if not is_customer_id(subject):
        return Identity(None, "invalid")
    return Identity(subject)


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
