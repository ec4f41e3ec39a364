"""Linking a messaging account (Telegram, WhatsApp, SMS, Slack, Messenger, a gateway) to a
customer, with a one-time code.

A messaging user is a platform id and nothing more: nothing proves who they are.
A customer who is verified on the website asks there for a code; sending that code
from the messaging app proves the same person controls both, and the app's user id
is then linked (``channel_identities``). Codes are random (8 characters, about 39
bits), stored only as a hash, work once and for ``CODE_TTL``; a messaging user who
sends ``MAX_FAILURES`` wrong codes within ``FAILURE_WINDOW`` is refused until the
window has passed, and once ``GLOBAL_MAX_FAILURES`` wrong codes arrived from all
messaging users together within that window, linking pauses for everybody until it has
passed: fresh platform ids (a gateway's, or new phone numbers) cannot guess either.
At that pace an attacker needs about 32**8 / (live codes * GLOBAL_MAX_FAILURES) hours
per hit: over a thousand years with a thousand live codes.

Refused attempts are not recorded, so the limits reopen when the window has passed;
failures older than the window are deleted (nothing else needs them), which keeps
``link_attempts`` as small as the limits.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from supportbot.errors import InvalidRequestError, NotFoundError
from supportbot.store.models import ChannelIdentity, Customer, LinkAttempt, LinkCode

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
"""No 0/O or 1/I: codes are read on one screen and typed on another."""
CODE_TTL = dt.timedelta(minutes=15)
MAX_FAILURES = 5
FAILURE_WINDOW = dt.timedelta(hours=1)
GLOBAL_MAX_FAILURES = 100
"""Wrong codes from all messaging users together, per ``FAILURE_WINDOW``, before linking pauses."""
WEB_CHANNELS = frozenset({"rest", "socketio"})
"""Channels whose conversations are verified by the customer token: nothing to link there."""

CODE_PATTERN = re.compile(r"(?=(?<![A-Za-z0-9])([A-Za-z0-9]{4})[\s-]?([A-Za-z0-9]{4})(?![A-Za-z0-9]))")
"""Eight characters, maybe split in two by a dash or a space; a lookahead, so candidates may
overlap ("link 7KQ4 M2XP" tries "LINK7KQ4" as well as "7KQ4M2XP")."""


class TooManyAttemptsError(InvalidRequestError):
    """This messaging user sent too many wrong codes recently."""


class LinkingPausedError(InvalidRequestError):
    """Too many wrong codes from all messaging users together recently: nobody links for now."""


class CodeNotValidError(InvalidRequestError):
    """Unknown, expired or already used."""


@dataclass(frozen=True)
class Linked:
    customer_id: str
    first_name: str
    channel: str
    previous_customer_id: str | None
    """Whom the account was linked to before (None: nobody); the conversation starts afresh
    when this is not the new owner (``bot.channels.fresh_start``)."""

    @property
    def owner_changed(self) -> bool:
        return self.previous_customer_id != self.customer_id


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def format_code(raw: str) -> str:
    return f"{raw[:4]}-{raw[4:]}"


def find_code(text: str) -> str | None:
    """The first thing in ``text`` shaped like a link code (``7KQ4-M2XP``, ``7kq4 m2xp``...), normalised."""
    for match in CODE_PATTERN.finditer(text or ""):
        candidate = (match.group(1) + match.group(2)).upper()
        if all(c in CODE_ALPHABET for c in candidate) and any(c.isdigit() for c in candidate):
            return candidate
    return None


def create_link_code(*, session: Session, customer_id: str, now: dt.datetime) -> str:
    """A new code for ``customer_id`` (formatted ``XXXX-XXXX``); earlier unused codes stop working."""
    if session.get(Customer, customer_id) is None:
        raise NotFoundError(f"customer {customer_id} not found")
    session.execute(delete(LinkCode).where(LinkCode.customer_id == customer_id, LinkCode.used_at.is_(None)))
    while True:
        raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
        if any(c.isdigit() for c in raw) and session.get(LinkCode, _hash(raw)) is None:
            break
    session.add(LinkCode(code_hash=_hash(raw), customer_id=customer_id, created_at=now, expires_at=now + CODE_TTL))
    session.flush()
    return format_code(raw)


def recent_failures(*, session: Session, channel: str, external_id: str, now: dt.datetime) -> int:
    return int(
        session.scalar(
            select(func.count()).where(
                LinkAttempt.channel == channel,
                LinkAttempt.external_id == external_id,
                LinkAttempt.at > now - FAILURE_WINDOW,
            )
        )
        or 0
    )


def recent_failures_everywhere(*, session: Session, now: dt.datetime) -> int:
    return int(session.scalar(select(func.count()).where(LinkAttempt.at > now - FAILURE_WINDOW)) or 0)


def redeem_link_code(*, session: Session, code: str, channel: str, external_id: str, now: dt.datetime) -> Linked:
    """Link ``external_id`` on ``channel`` to the customer who got ``code``.

    Raises ``LinkingPausedError``, ``TooManyAttemptsError`` (both before the code is even
    looked at, and recording nothing) or ``CodeNotValidError``; a wrong code is recorded
    (in the caller's transaction, which must commit it even though this raised).
    """
    if channel in WEB_CHANNELS:
        raise InvalidRequestError("link codes are sent from a messaging app, not from the website chat")
    session.execute(delete(LinkAttempt).where(LinkAttempt.at <= now - FAILURE_WINDOW))
    if recent_failures_everywhere(session=session, now=now) >= GLOBAL_MAX_FAILURES:
        raise LinkingPausedError("too many wrong link codes from all messaging accounts; linking paused for now")
    if recent_failures(session=session, channel=channel, external_id=external_id, now=now) >= MAX_FAILURES:
        raise TooManyAttemptsError("too many wrong link codes from this account; wait an hour")
    row = session.get(LinkCode, _hash(code.replace("-", "").upper()))
    if row is None or row.used_at is not None or row.expires_at <= now:
        session.add(LinkAttempt(channel=channel, external_id=external_id, at=now))
        session.flush()
        raise CodeNotValidError("that link code is not valid (expired, used already or mistyped)")
    row.used_at = now
    identity = session.scalar(
        select(ChannelIdentity).where(ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id)
    )
    previous = identity.customer_id if identity is not None else None
    if identity is None:
        session.add(
            ChannelIdentity(
                customer_id=row.customer_id, channel=channel, external_id=external_id, linked_at=now, last_seen_at=now
            )
        )
    else:  # the account was linked to somebody else (a shared phone changed hands): the new code wins
        identity.customer_id, identity.linked_at, identity.last_seen_at = row.customer_id, now, now
    session.execute(delete(LinkAttempt).where(LinkAttempt.channel == channel, LinkAttempt.external_id == external_id))
    session.flush()
    customer = session.get(Customer, row.customer_id)
    assert customer is not None  # the foreign key cascades: a code outlives no customer
    return Linked(
        customer_id=customer.id, first_name=customer.first_name, channel=channel, previous_customer_id=previous
    )


def unlink(*, session: Session, channel: str, external_id: str) -> bool:
    """Remove this messaging account's link; False when it was not linked."""
    result = session.execute(
        delete(ChannelIdentity).where(ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id)
    )
    return bool(getattr(result, "rowcount", 0))
