"""Account changes asked for in conversation, and the customer's answer to each (app environment).

Why this shape
- The assistant never changes an account on the strength of a request alone: the action
  that would change something records a *pending* row here (what, with which parameters,
  and the exact question the customer was shown) and asks. Only an explicit yes to that
  question, in the same conversation, applies it; the row then records when and with which
  words the customer said yes (``confirmed_at``, ``answer``), next to the conversation id.
- One row per question, never updated into a different question: a correction ("sorry, I
  meant 15 March") supersedes the row and asks again with a new one, so the audit trail shows
  every question exactly as it was put.
- ``status``: ``pending`` (asked, unanswered), ``confirmed`` (yes, and applied), ``failed``
  (yes, but the change could not be made: ``outcome`` says why), ``declined`` (no),
  ``expired`` (the customer moved on, a new session began, or ``expires_at`` passed) and
  ``superseded`` (a newer question replaced it). Only ``pending`` rows can be answered.
- ``customer_id`` is always a verified customer (anonymous visitors cannot change an
  account); deleting the customer deletes the rows, and with them any new email address or
  phone number a question quoted.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from supportbot.store.models import Base, UTCDateTime, utcnow

CHANGE_KINDS = (
    "renew",
    "change_plan",
    "cancel",
    "retention_offer",
    "redeem_points",
    "profile_update",
    "unlink",
    "referral",
)
"""Every kind of account change the assistant can make, each only after a yes."""
CHANGE_STATUSES = ("pending", "confirmed", "failed", "declined", "expired", "superseded")


class AccountChangeRequest(Base):
    __tablename__ = "account_change_requests"
    __table_args__ = (Index("ix_account_change_requests_conversation", "conversation_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    conversation_id: Mapped[str] = mapped_column(String(255))
    channel: Mapped[str | None] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))
    parameters: Mapped[str] = mapped_column(Text, default="{}")
    """JSON: what exactly would change (plan code, new value, reward code...)."""
    prompt: Mapped[str] = mapped_column(Text)
    """The question exactly as the customer saw it."""
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    answer: Mapped[str | None] = mapped_column(String(200))
    """What the customer sent that settled it: a button payload or the words they typed."""
    outcome: Mapped[str | None] = mapped_column(Text)
    """What happened: the change made, or why it could not be made or was not made."""
