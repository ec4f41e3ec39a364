"""Customer tokens: how a host website vouches for a signed-in customer.

Format (documented in the README): a JWT signed with HS256 using the shared
``CUSTOMER_TOKEN_SECRET``; claims ``sub`` (customer id, string), ``exp`` (expiry,
seconds since epoch, required), ``iat`` (issued at, optional).

Minting lives here (app environment: the demo page and the CLI mint tokens);
verification inside the Rasa server is done by ``bot.identity``, which must not
import this package. Tests check that the two agree.
"""

from __future__ import annotations

import datetime as dt

import jwt

from supportbot.errors import IdentityError

ALGORITHM = "HS256"


def mint_customer_token(
    *, customer_id: str, secret: str, ttl_seconds: int = 3600, now: dt.datetime | None = None
) -> str:
    if not customer_id:
        raise IdentityError("customer_id must not be empty")
    issued = now or dt.datetime.now(dt.UTC)
    claims = {
        "sub": customer_id,
        "iat": int(issued.timestamp()),
        "exp": int((issued + dt.timedelta(seconds=ttl_seconds)).timestamp()),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_customer_token(token: str, *, secret: str) -> str:
    """Return the customer id the token vouches for, or raise IdentityError."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]})
    except jwt.PyJWTError as exc:
        raise IdentityError(f"invalid customer token: {exc}") from exc
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise IdentityError("customer token has no customer id")
    return subject
