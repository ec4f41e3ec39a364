"""Recording feedback and acting on it: the narrow interface conversation actions call.

Every function takes the caller's session and does not commit: an action runs one unit of
work in one transaction (``actions.base.StoreAction``), so a rating and the follow-up it
triggers are stored together or not at all.

Rules kept here rather than in actions, so they are tested once:
- ratings are validated against their scale; an out-of-range rating is a bug upstream;
- texts are redacted *when recorded*, so nothing downstream sees raw PII;
- NPS is due at most once per ``every_days`` per customer, counting surveys that were
  skipped (a skip is recorded as an NPS row without a rating): asking again next week
  because someone said "not now" is exactly the spam the product promises not to send;
- a follow-up is opened at most once per feedback row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from supportbot.errors import InvalidRequestError, NotFoundError
from supportbot.feedback.ratings import SCALE_RANGE, Segment, segment
from supportbot.feedback.redaction import Redactor
from supportbot.store.feedback_models import PROMPTS, Feedback, FeedbackFollowUp, PromoterInvitation
from supportbot.store.models import Customer, utcnow

RatingKind = Literal["csat", "nps"]


@dataclass(frozen=True)
class RatingRecorded:
    feedback_id: int
    segment: Segment
    """``detractor`` → offer a follow-up by a person; ``promoter`` → invite to the programme."""


@dataclass(frozen=True)
class FollowUpView:
    id: int
    feedback_id: int
    customer_id: str | None
    status: str
    reason: str
    kind: str
    rating: int | None
    text_redacted: str | None
    conversation_id: str
    created_at: dt.datetime
    done_at: dt.datetime | None
    done_by: str | None


def _check_context(*, session: Session, customer_id: str | None, prompted_by: str) -> None:
    if prompted_by not in PROMPTS:
        raise InvalidRequestError(f"unknown feedback prompt {prompted_by!r}; expected one of {PROMPTS}")
    if customer_id is not None and session.get(Customer, customer_id) is None:
        raise NotFoundError(f"customer {customer_id!r} does not exist")


def record_rating(
    *,
    session: Session,
    conversation_id: str,
    channel: str,
    kind: RatingKind,
    rating: int,
    prompted_by: str,
    customer_id: str | None = None,
    now: dt.datetime | None = None,
) -> RatingRecorded:
    """Store one CSAT (1–5) or NPS (0–10) answer and say which segment it falls in."""
    if kind not in SCALE_RANGE:
        raise InvalidRequestError(f"unknown rating kind {kind!r}")
    low, high = SCALE_RANGE[kind]
    if not low <= rating <= high:
        raise InvalidRequestError(f"{kind} rating must be {low}–{high}, got {rating}")
    _check_context(session=session, customer_id=customer_id, prompted_by=prompted_by)
    row = Feedback(
        customer_id=customer_id,
        conversation_id=conversation_id,
        channel=channel,
        kind=kind,
        rating=rating,
        prompted_by=prompted_by,
        created_at=now or utcnow(),
    )
    session.add(row)
    session.flush()
    return RatingRecorded(feedback_id=row.id, segment=segment(scale=kind, rating=rating))


def record_skip(
    *,
    session: Session,
    conversation_id: str,
    channel: str,
    kind: RatingKind,
    prompted_by: str,
    customer_id: str | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Store that a rating was asked for and declined (``rating`` NULL); counts for ``nps_due``."""
    _check_context(session=session, customer_id=customer_id, prompted_by=prompted_by)
    row = Feedback(
        customer_id=customer_id,
        conversation_id=conversation_id,
        channel=channel,
        kind=kind,
        rating=None,
        prompted_by=prompted_by,
        created_at=now or utcnow(),
    )
    session.add(row)
    session.flush()
    return row.id


def record_text(
    *,
    session: Session,
    conversation_id: str,
    channel: str,
    text: str,
    prompted_by: str,
    redactor: Redactor,
    customer_id: str | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Store open-ended feedback with its redacted form; returns the feedback id.

    The theme is not assigned here (that needs the embedding model, which the action
    server should not load): ``python -m supportbot.feedback assign-new`` does it.
    """
    cleaned = text.strip()
    if not cleaned:
        raise InvalidRequestError("empty feedback text")
    _check_context(session=session, customer_id=customer_id, prompted_by=prompted_by)
    row = Feedback(
        customer_id=customer_id,
        conversation_id=conversation_id,
        channel=channel,
        kind="text",
        text=cleaned,
        text_redacted=redactor.redact(cleaned),
        prompted_by=prompted_by,
        created_at=now or utcnow(),
    )
    session.add(row)
    session.flush()
    return row.id


def rated_in_conversation(*, session: Session, conversation_id: str, kind: RatingKind) -> bool:
    """Whether this conversation already has a rating (or a skip) of ``kind``: never ask twice."""
    found = session.scalar(
        select(Feedback.id).where(Feedback.conversation_id == conversation_id, Feedback.kind == kind).limit(1)
    )
    return found is not None


def nps_due(*, session: Session, customer_id: str, now: dt.datetime, every_days: int) -> bool:
    """True when the customer has had no NPS survey (answered or skipped) in the last ``every_days`` days."""
    last = session.scalar(
        select(func.max(Feedback.created_at)).where(Feedback.customer_id == customer_id, Feedback.kind == "nps")
    )
    if last is None:
        return True
    last_at = last if last.tzinfo else last.replace(tzinfo=dt.UTC)  # func.max bypasses the column type
    return now - last_at >= dt.timedelta(days=every_days)


def open_follow_up(*, session: Session, feedback_id: int, reason: str = "", now: dt.datetime | None = None) -> int:
    """Ask a person to contact the customer about this feedback; idempotent, returns the follow-up id."""
    feedback = session.get(Feedback, feedback_id)
    if feedback is None:
        raise NotFoundError(f"feedback {feedback_id} does not exist")
    existing = session.scalar(select(FeedbackFollowUp).where(FeedbackFollowUp.feedback_id == feedback_id))
    if existing is not None:
        return existing.id
    row = FeedbackFollowUp(
        feedback_id=feedback_id,
        customer_id=feedback.customer_id,
        status="open",
        reason=reason,
        created_at=now or utcnow(),
    )
    session.add(row)
    session.flush()
    return row.id


def _view(follow_up: FeedbackFollowUp) -> FollowUpView:
    fb = follow_up.feedback
    return FollowUpView(
        id=follow_up.id,
        feedback_id=fb.id,
        customer_id=follow_up.customer_id,
        status=follow_up.status,
        reason=follow_up.reason,
        kind=fb.kind,
        rating=fb.rating,
        text_redacted=fb.text_redacted,
        conversation_id=fb.conversation_id,
        created_at=follow_up.created_at,
        done_at=follow_up.done_at,
        done_by=follow_up.done_by,
    )


def open_follow_ups(*, session: Session, limit: int = 100) -> list[FollowUpView]:
    """Open follow-ups, oldest first: the console's work queue."""
    rows = session.scalars(
        select(FeedbackFollowUp)
        .where(FeedbackFollowUp.status == "open")
        .order_by(FeedbackFollowUp.created_at, FeedbackFollowUp.id)
        .limit(limit)
    )
    return [_view(row) for row in rows]


def mark_follow_up_done(
    *, session: Session, follow_up_id: int, done_by: str, note: str | None = None, now: dt.datetime | None = None
) -> FollowUpView:
    """Close a follow-up; closing one that is already done keeps the first closer and time."""
    row = session.get(FeedbackFollowUp, follow_up_id)
    if row is None:
        raise NotFoundError(f"follow-up {follow_up_id} does not exist")
    if row.status != "done":
        row.status = "done"
        row.done_at = now or utcnow()
        row.done_by = done_by
        row.note = note
        session.flush()
    return _view(row)


def record_promoter_invitation(
    *,
    session: Session,
    customer_id: str,
    accepted: bool,
    feedback_id: int | None = None,
    programme: str = "advisory_beta",
    now: dt.datetime | None = None,
) -> int:
    """Store a promoter's answer to the advisory / beta programme invitation; returns its id."""
    if session.get(Customer, customer_id) is None:
        raise NotFoundError(f"customer {customer_id!r} does not exist")
    row = PromoterInvitation(
        customer_id=customer_id,
        feedback_id=feedback_id,
        programme=programme,
        accepted=accepted,
        created_at=now or utcnow(),
    )
    session.add(row)
    session.flush()
    return row.id
