"""Feedback tables: ratings and texts customers give, and the themes found in them (app environment).

Why these shapes
- One ``feedback`` row per answer (a CSAT or NPS rating, or a text), so every answer keeps
  its own moment, channel and reason for being asked (``prompted_by``). A text and a
  rating from the same conversation are tied together by ``conversation_id``.
- ``text`` is what the customer wrote, kept for the follow-up a person makes;
  ``text_redacted`` is what analysis and the console show. Themes are built only from
  the redacted text, so PII never reaches embeddings, labels or quotes.
- ``customer_id`` is set only for a verified customer (see ``actions.context``); anonymous
  feedback is still worth counting. Deleting a customer deletes their feedback.
- Themes are rebuilt wholesale (``supportbot.feedback.themes``); a feedback row points
  at its theme with ``ON DELETE SET NULL`` so a rebuild never loses feedback.
- A theme's centroid is stored as raw float32 bytes together with the embedding model
  name: incremental assignment must compare vectors from the same model only.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Float, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from supportbot.store.models import Base, UTCDateTime, utcnow

FEEDBACK_KINDS = ("csat", "nps", "text")
PROMPTS = (
    "resolution",
    "handoff_closed",
    "conversation_end",
    "volunteered",
    "nps_survey",
    "outreach",
    "vague_follow_up",
)
"""What prompted a piece of feedback; ``volunteered`` means the customer offered it unasked."""
FOLLOW_UP_STATUSES = ("open", "done")
POLARITIES = ("positive", "negative", "mixed", "neutral")


class Feedback(Base):
    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    conversation_id: Mapped[str] = mapped_column(String(200), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(8))
    """``csat`` (rating 1–5), ``nps`` (rating 0–10) or ``text``."""
    rating: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str | None] = mapped_column(Text)
    text_redacted: Mapped[str | None] = mapped_column(Text)
    prompted_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    theme_id: Mapped[int | None] = mapped_column(ForeignKey("feedback_themes.id", ondelete="SET NULL"), index=True)
    theme_similarity: Mapped[float | None] = mapped_column(Float)
    """Cosine similarity to the theme centroid when assigned; lets the console sort by fit."""

    theme: Mapped[FeedbackTheme | None] = relationship(back_populates="members")


class FeedbackTheme(Base):
    __tablename__ = "feedback_themes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    label: Mapped[str] = mapped_column(String(200))
    key_phrases: Mapped[str] = mapped_column(Text, default="[]")
    """JSON list of the theme's key phrases, best first."""
    size: Mapped[int] = mapped_column(Integer, default=0)
    centroid: Mapped[bytes] = mapped_column(LargeBinary)
    """Unit-length float32 vector, ``numpy.frombuffer(centroid, dtype=numpy.float32)``."""
    embedding_model: Mapped[str] = mapped_column(String(300))
    polarity: Mapped[str] = mapped_column(String(16), default="neutral")
    polarity_score: Mapped[float] = mapped_column(Float, default=0.0)
    """-1 (all negative) .. +1 (all positive); from ratings where there are some, else a lexicon."""
    avg_csat: Mapped[float | None] = mapped_column(Float)
    avg_nps: Mapped[float | None] = mapped_column(Float)
    rated_count: Mapped[int] = mapped_column(Integer, default=0)
    trend: Mapped[str] = mapped_column(Text, default="{}")
    """JSON object ISO week (``2026-W47``) → number of members created that week."""
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    members: Mapped[list[Feedback]] = relationship(back_populates="theme", passive_deletes=True)
    quotes: Mapped[list[ThemeQuote]] = relationship(
        back_populates="theme", cascade="all, delete-orphan", order_by="ThemeQuote.rank"
    )


class ThemeQuote(Base):
    """A representative member of a theme (nearest its centroid); shown as its redacted text."""

    __tablename__ = "feedback_theme_quotes"
    __table_args__ = (UniqueConstraint("theme_id", "rank"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    theme_id: Mapped[int] = mapped_column(ForeignKey("feedback_themes.id", ondelete="CASCADE"), index=True)
    feedback_id: Mapped[int] = mapped_column(ForeignKey("feedback.id", ondelete="CASCADE"), index=True)
    rank: Mapped[int] = mapped_column(Integer)
    similarity: Mapped[float] = mapped_column(Float)

    theme: Mapped[FeedbackTheme] = relationship(back_populates="quotes")
    feedback: Mapped[Feedback] = relationship()


class FeedbackFollowUp(Base):
    """A person should contact a detractor about one piece of feedback; one per feedback row."""

    __tablename__ = "feedback_follow_ups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feedback_id: Mapped[int] = mapped_column(ForeignKey("feedback.id", ondelete="CASCADE"), unique=True)
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(8), default="open", index=True)
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    done_by: Mapped[str | None] = mapped_column(String(120))
    note: Mapped[str | None] = mapped_column(Text)

    feedback: Mapped[Feedback] = relationship()


class PromoterInvitation(Base):
    """A promoter was invited to the advisory / beta programme; ``accepted`` is their answer."""

    __tablename__ = "promoter_invitations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    feedback_id: Mapped[int | None] = mapped_column(ForeignKey("feedback.id", ondelete="SET NULL"))
    programme: Mapped[str] = mapped_column(String(64), default="advisory_beta")
    accepted: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
