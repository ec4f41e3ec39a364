"""Customer tokens: how a host website vouches for a signed-in customer.

Format (documented in the README): a JWT signed with HS256 using the shared
``CUSTOMER_TOKEN_SECRET``; claims ``sub`` (customer id), ``aud`` (the audience,
``CUSTOMER_TOKEN_AUDIENCE``), ``iat`` and ``exp``, all required; a token lives at most
``bot.identity.MAX_TOKEN_LIFETIME_SECONDS``.

Minting lives here (app environment: the demo page and the CLI mint tokens);
verification is ``bot.identity.verify_token``, the very function the Rasa server runs
(plain PyJWT, no Rasa import), so the two cannot disagree.
"""

from __future__ import annotations

import datetime as dt

import jwt

from bot.conversation_ids import CUSTOMER_ID_RULE, is_customer_id
from bot.identity import ALGORITHM, DEFAULT_AUDIENCE, MAX_TOKEN_LIFETIME_SECONDS, verify_token
from supportbot.errors import IdentityError


def mint_customer_token(
    *,
    customer_id: str,
    secret: str,
    ttl_seconds: int = 3600,
    now: dt.datetime | None = None,
    audience: str = DEFAULT_AUDIENCE,
) -> str:
    if not is_customer_id(customer_id):
        raise IdentityError(f"a customer id is {CUSTOMER_ID_RULE}; got {customer_id!r}")
    if not 0 < ttl_seconds <= MAX_TOKEN_LIFETIME_SECONDS:
        raise IdentityError(f"a customer token lives between 1 s and {MAX_TOKEN_LIFETIME_SECONDS} s")
    issued = now or dt.datetime.now(dt.UTC)
    claims = {
        "sub": customer_id,
        "aud": audience,
        "iat": int(issued.timestamp()),
        "exp": int((issued + dt.timedelta(seconds=ttl_seconds)).timestamp()),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_customer_token(token: str, *, secret: str, audience: str = DEFAULT_AUDIENCE) -> str:
    """Return the customer id the token vouches for, or raise IdentityError."""
    identity = verify_token(token, secret, audience=audience)
    if identity.customer_id is None:
        raise IdentityError(f"invalid customer token ({identity.problem or 'missing'})")
    return identity.customer_id
