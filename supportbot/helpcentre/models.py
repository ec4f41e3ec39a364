"""The help centre's one table: what the assistant answered from it, kept to find content gaps.

One row per question the help-centre action handled. ``question_redacted`` is the only
text kept (redacted before it is written, like feedback), with its embedding so the
console can group similar gaps without loading a model. A row is a content gap when the
assistant was not sure, or when a handoff or a low rating followed the answer in the same
conversation (``supportbot.helpcentre.gaps``); that is decided when the console reads,
from ``support_interactions`` and ``feedback``, so nothing else has to write here.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Float, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from supportbot.store.models import Base, UTCDateTime, utcnow

OUTCOMES = ("answered", "not_sure")


class HelpAnswer(Base):
    __tablename__ = "helpcentre_answers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    conversation_id: Mapped[str] = mapped_column(String(255), index=True)
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    question_redacted: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(16), index=True)
    article_slug: Mapped[str | None] = mapped_column(String(120))
    """The article answered from, or the closest one when not sure."""
    offered: Mapped[str] = mapped_column(Text, default="")
    """Comma-separated slugs of the articles offered."""
    cosine: Mapped[float] = mapped_column(Float)
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)
    """float32 bytes of the redacted question's embedding (model in ``embedding_model``)."""
    embedding_model: Mapped[str] = mapped_column(String(200), default="")
