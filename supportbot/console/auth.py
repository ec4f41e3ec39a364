"""Staff accounts, roles, passwords and sessions.

Passwords are argon2id hashes (argon2-cffi's defaults, rehashed when those change). A
session is a random token in an HttpOnly cookie; the database keeps only its SHA-256, so
reading the table does not let anyone sign in.

Wrong passwords lock an account: the count is one atomic ``UPDATE ... SET failed_logins =
failed_logins + 1`` (a read-modify-write lost nine of ten parallel tries: security review,
issue 14 finding 8), and the lock is set in the same statement when the count reaches
``MAX_FAILED_LOGINS``. The count goes back to 0 only on a successful sign-in, so after the
lock has run out each further wrong password locks the account again. Every path costs one
argon2 verification, the same work: an unknown email, a disabled account and a locked one
are verified against a dummy hash, so the answer's timing tells nothing about the account.
Limits per address and overall, before any hashing, are ``throttle``.
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
from sqlalchemy import case, delete, literal, select, update
from sqlalchemy.orm import Session

from supportbot.errors import InvalidRequestError
from supportbot.store.console_models import CONSOLE_ROLES, ConsoleSession, ConsoleUser
from supportbot.store.models import UTCDateTime, utcnow

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
    "handle_handoffs": _ALL,  # the inbox: claim, write to the customer, hand back, close one's own
    "manage_handoffs": _LEADS,  # close a conversation another agent has claimed
    "view_intelligence": _ALL,  # segments, churn risk with reasons, next best actions, lifetime value (by customer id)
    "view_programme": _LEADS,  # the co-creation programme's members and what they said; its export needs "export"
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


def set_password(*, session: Session, email: str, password: str) -> ConsoleUser:
    """A new password for an existing account: its sessions end and a lock is lifted (the
    person at the keyboard of the server decides; see docs/SECURITY.md, "Secrets")."""
    check_password_strength(password)
    user = session.scalar(select(ConsoleUser).where(ConsoleUser.email == email.strip().lower()))
    if user is None:
        raise InvalidRequestError(f"no console user {email.strip().lower()}")
    user.password_hash = _hasher.hash(password)
    user.failed_logins, user.locked_until = 0, None
    session.execute(delete(ConsoleSession).where(ConsoleSession.user_id == user.id))
    session.flush()
    return user


@dataclass(frozen=True)
class SignIn:
    """What a sign-in attempt came to: the user, or why not (for the audit log)."""

    user: ConsoleUser | None
    failure: str | None = None
    """``unknown_account``, ``inactive``, ``locked`` or ``wrong_password``."""
    account_id: int | None = None
    """The account the attempt named, if it exists."""
    locked_until: dt.datetime | None = None
    """Set when this attempt locked the account."""


def _verify_dummy(password: str) -> None:
    with contextlib.suppress(VerificationError):
        _hasher.verify(_dummy_hash(), password)


def authenticate(*, session: Session, email: str, password: str, now: dt.datetime | None = None) -> SignIn:
    """Check the password of the account ``email``, counting a wrong one atomically."""
    now = now or utcnow()
    user = session.scalar(select(ConsoleUser).where(ConsoleUser.email == email.strip().lower()))
    if user is None or not user.active:
        _verify_dummy(password)
        return SignIn(None, "unknown_account" if user is None else "inactive", None if user is None else user.id)
    if user.locked_until is not None and user.locked_until > now:
        _verify_dummy(password)  # the same work as a real check: a locked account must not answer faster
        return SignIn(None, "locked", user.id)
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return SignIn(None, "wrong_password", user.id, _count_failure(session, user.id, now))
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    return SignIn(user)


def _count_failure(session: Session, user_id: int, now: dt.datetime) -> dt.datetime | None:
    """One more failure, in one statement; the lock's end if this failure locked the account."""
    reaches = ConsoleUser.failed_logins + 1 >= MAX_FAILED_LOGINS
    count, locked_until = session.execute(
        update(ConsoleUser)
        .where(ConsoleUser.id == user_id)
        .values(
            failed_logins=ConsoleUser.failed_logins + 1,
            locked_until=case((reaches, literal(now + LOCKOUT, UTCDateTime())), else_=ConsoleUser.locked_until),
        )
        .returning(ConsoleUser.failed_logins, ConsoleUser.locked_until)
        .execution_options(synchronize_session=False)
    ).one()
    return locked_until if count >= MAX_FAILED_LOGINS else None


def warm_up() -> None:
    """Make the dummy hash now, so the first unknown email does not take two hashes' time."""
    _dummy_hash()


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
