"""Console tables: staff accounts and sessions, conversation review, and the audit log (app environment).

Why these shapes
- Staff passwords are stored only as argon2 hashes; there is no default account: the first
  admin is created from the command line (``python -m supportbot.console create-admin``).
- A session row is keyed by the SHA-256 of the cookie's random token, so a leaked
  database does not hand out working cookies; signing out or disabling a user deletes
  the rows. Each session carries its own CSRF token.
- Review data (tags, status, notes) is keyed by Rasa's conversation id (the tracker's
  ``sender_id``): conversations live in Rasa's tracker store, possibly another database,
  so there is no foreign key to them. Forgetting a customer deletes these rows too.
- The audit log never holds a customer's personal data: a forgotten customer appears
  only as a keyed hash of their id (``subject``), enough to answer "was this customer
  forgotten, and when" without keeping who they were.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from supportbot.store.models import Base, UTCDateTime, utcnow

CONSOLE_ROLES = ("admin", "lead", "agent")
REVIEW_STATUSES = ("unreviewed", "in_review", "reviewed", "needs_follow_up")


class ConsoleUser(Base):
    __tablename__ = "console_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(80))
    """The name customers see on this person's messages ("Ana from support joined"); migration 0014."""
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    """Set after repeated wrong passwords; sign-in is refused until then."""
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ConsoleSession(Base):
    __tablename__ = "console_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("console_users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ConversationReview(Base):
    """A lead's review status of one conversation; no row means ``unreviewed``."""

    __tablename__ = "conversation_reviews"

    conversation_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("console_users.id", ondelete="SET NULL"))


class ConversationTag(Base):
    __tablename__ = "conversation_tags"

    conversation_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    tag: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    added_by: Mapped[int | None] = mapped_column(ForeignKey("console_users.id", ondelete="SET NULL"))


class ConversationNote(Base):
    __tablename__ = "conversation_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(255), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("console_users.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEntry(Base):
    """Who did what in the console: reveals, exports, forgets, follow-ups closed, sign-ins."""

    __tablename__ = "console_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("console_users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(255), default="")
    """What the action was about: a conversation id, or ``customer:<keyed hash>`` for a forget."""
    details: Mapped[str] = mapped_column(Text, default="{}")
    """JSON object without personal data (counts, filters, role)."""
