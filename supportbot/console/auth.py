"""Staff accounts, roles, passwords and sessions.

Passwords are argon2id hashes (argon2-cffi's defaults, rehashed when those change). A
session is a random token in an HttpOnly cookie; the database keeps only its SHA-256, so
reading the table does not let anyone sign in. Wrong passwords lock an account for a
while after a few tries, and an unknown email costs the same hashing time as a known one,
so sign-in reveals neither which emails exist nor lets anyone guess quickly.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from supportbot.errors import InvalidRequestError
from supportbot.store.console_models import CONSOLE_ROLES, ConsoleSession, ConsoleUser
from supportbot.store.models import utcnow

_ALL = frozenset(CONSOLE_ROLES)
_LEADS = frozenset({"admin", "lead"})
PERMISSIONS: dict[str, frozenset[str]] = {
    "view_conversations": _ALL,
    "view_kpis": _ALL,
    "view_feedback": _ALL,
    "review": _LEADS,  # tags, review status and notes on conversations
    "reveal_pii": _LEADS,
    "export": _LEADS,
    "view_customers": _LEADS,
    "view_outreach": _LEADS,
    "follow_up": _LEADS,
    "forget": frozenset({"admin"}),
    "view_audit": frozenset({"admin"}),
    "reindex_help": frozenset({"admin"}),  # rebuild the help centre's search index
}
"""Permission → roles that have it. Agents read redacted conversations, KPIs and themes only."""

MIN_PASSWORD_LENGTH = 12
MAX_FAILED_LOGINS = 5
LOCKOUT = dt.timedelta(minutes=15)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def production_hasher() -> PasswordHasher:
    """argon2id at argon2-cffi's defaults (RFC 9106's low-memory profile)."""
    return PasswordHasher()


_hasher = production_hasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the email is unknown, so both paths cost one argon2 verification."""
    return _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class StaffUser:
    id: int
    email: str
    role: str
    csrf_token: str

    def can(self, permission: str) -> bool:
        return self.role in PERMISSIONS[permission]


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidRequestError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters")


def create_user(*, session: Session, email: str, role: str, password: str) -> ConsoleUser:
    """A new staff account; the email is stored lower-case and must be unique."""
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise InvalidRequestError(f"not an email address: {email!r}")
    if role not in CONSOLE_ROLES:
        raise InvalidRequestError(f"unknown role {role!r}; expected one of {CONSOLE_ROLES}")
    check_password_strength(password)
    if session.scalar(select(ConsoleUser.id).where(ConsoleUser.email == email)) is not None:
        raise InvalidRequestError(f"a console user {email} already exists")
    user = ConsoleUser(email=email, role=role, password_hash=_hasher.hash(password))
    session.add(user)
    session.flush()
    return user


def authenticate(*, session: Session, email: str, password: str, now: dt.datetime | None = None) -> ConsoleUser | None:
    """The user if the password is right and the account active and not locked; else ``None``."""
    now = now or utcnow()
    user = session.scalar(select(ConsoleUser).where(ConsoleUser.email == email.strip().lower()))
    if user is None or not user.active:
        with contextlib.suppress(VerificationError):
            _hasher.verify(_dummy_hash(), password)
        return None
    if user.locked_until is not None and user.locked_until > now:
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until = now + LOCKOUT
            user.failed_logins = 0
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    return user


def start_session(*, session: Session, user: ConsoleUser, hours: int, now: dt.datetime | None = None) -> str:
    """Create a session for ``user`` and return the cookie's token (shown once, stored hashed)."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at <= now))
    session.add(
        ConsoleSession(
            token_hash=_hash_token(token),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + dt.timedelta(hours=hours),
        )
    )
    session.flush()
    return token


def session_user(*, session: Session, token: str, now: dt.datetime | None = None) -> StaffUser | None:
    """Who holds this cookie token, if the session is current and the account active."""
    if not token:
        return None
    now = now or utcnow()
    row = session.execute(
        select(ConsoleSession, ConsoleUser)
        .join(ConsoleUser, ConsoleUser.id == ConsoleSession.user_id)
        .where(ConsoleSession.token_hash == _hash_token(token), ConsoleSession.expires_at > now)
    ).first()
    if row is None or not row[1].active:
        return None
    stored, user = row
    return StaffUser(id=user.id, email=user.email, role=user.role, csrf_token=stored.csrf_token)


def end_session(*, session: Session, token: str) -> None:
    session.execute(delete(ConsoleSession).where(ConsoleSession.token_hash == _hash_token(token)))
