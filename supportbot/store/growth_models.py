"""Referral programme tables: each customer's referral code and the referrals recorded (app environment).

Why these shapes
- ``referral_codes``: one code per customer (``customer_id`` is the primary key), the code
  itself UNIQUE. A code is made the first time it is needed (a referral invitation is rendered,
  the customer asks for it in chat), so the message that shows a code never shows one that
  does not exist.
- ``referrals``: one row per referred customer (``customer_id`` is UNIQUE: a customer is
  referred once). The row is about the referred customer, so it is theirs (exported and
  forgotten with them); ``referrer_id`` names the customer who referred them and becomes NULL
  when that customer is forgotten, so the referral still counts in the figures.
- ``source`` says where it was recorded: ``import`` (the business's sign-up system said so),
  ``conversation`` (the customer told the assistant and said yes to recording it), ``demo``.
- The referrer's thank-you is a perk granted with the key ``referral:<id>``
  (``supportbot.services.perks``): recorded once, granted once.
"""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from supportbot.store.models import Base, UTCDateTime, utcnow

REFERRAL_SOURCES = ("import", "conversation", "demo")
CODE_PREFIX = "LUMEN-"
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
"""No 0/O, 1/I/L: a code read aloud or copied by hand still works."""
CODE_LENGTH = 6
CODE_PATTERN = re.compile(rf"\bLUMEN[-\s]?([{CODE_ALPHABET}]{{{CODE_LENGTH}}})\b", re.IGNORECASE)


def normalise_code(text: str) -> str | None:
    """``LUMEN-XXXXXX`` from a message or a cell ("lumen 7kq4mx", "LUMEN-7KQ4MX."), or None if none is in it."""
    found = CODE_PATTERN.search(text or "")
    return CODE_PREFIX + found.group(1).upper() if found else None


class ReferralCode(Base):
    __tablename__ = "referral_codes"

    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    """``LUMEN-`` and six characters without look-alikes (no 0/O, 1/I/L), e.g. ``LUMEN-7KQ4MX``."""
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Referral(Base):
    __tablename__ = "referrals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), unique=True)
    """The referred customer."""
    referrer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"), index=True)
    code: Mapped[str] = mapped_column(String(16))
    """The code as it was used (kept when the referrer is forgotten)."""
    source: Mapped[str] = mapped_column(String(16))
    conversation_id: Mapped[str | None] = mapped_column(String(255))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
