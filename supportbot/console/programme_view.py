"""Co-creation: the advisory / beta programme promoters join, as the product team's list.

Promoters are invited in conversation (an NPS 9-10 answer leads to ``programme_form``) and by the
``programme_invitation`` campaign; every answer is a ``promoter_invitations`` row. The bot tells
a promoter who joins "Our product team will email you before the next beta": this page and its
export are the list that promise is kept from. Members are shown by customer id with what they
said (ratings and redacted feedback); names and email addresses are only in the export, which is
a POST with the session's CSRF token, for roles with ``export``, written to the audit log.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from supportbot.intelligence.segment_catalogue import SEGMENTS_BY_CODE
from supportbot.store.feedback_models import Feedback, PromoterInvitation
from supportbot.store.intelligence_models import CustomerSegment
from supportbot.store.models import Customer
from supportbot.store.outreach_models import OutboxMessage

QUOTES = 3


@dataclass(frozen=True)
class Member:
    customer_id: str
    joined_at: dt.datetime
    via: str
    """``campaign`` (the programme invitation message) or ``conversation`` (after an NPS answer)."""
    segment: str
    nps: int | None
    csat: float | None
    said: list[tuple[dt.datetime, str]] = field(default_factory=list)
    """(when, redacted text) of their latest feedback, newest first."""


@dataclass(frozen=True)
class Programme:
    members: list[Member]
    invited: int
    accepted: int
    declined: int
    invitations_sent: int
    """``programme_invitation`` messages sent."""

    @property
    def acceptance(self) -> float | None:
        return self.accepted / self.invited if self.invited else None


def programme(session: Session) -> Programme:
    answers = list(session.scalars(select(PromoterInvitation).order_by(PromoterInvitation.created_at)))
    joined: dict[str, PromoterInvitation] = {}
    for answer in answers:  # the latest answer counts: a customer may say yes after an earlier no
        joined.pop(answer.customer_id, None)
        if answer.accepted:
            joined[answer.customer_id] = answer
    ids = sorted(joined, key=lambda cid: (joined[cid].created_at, cid), reverse=True)
    campaign_days = {
        (cid, sent.date())
        for cid, sent in session.execute(
            select(OutboxMessage.customer_id, OutboxMessage.sent_at).where(
                OutboxMessage.campaign == "programme_invitation", OutboxMessage.sent_at.is_not(None)
            )
        )
        if sent is not None
    }
    segments = dict(
        session.execute(
            select(CustomerSegment.customer_id, CustomerSegment.segment).where(CustomerSegment.customer_id.in_(ids))
        ).all()
    )
    ratings: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    said: dict[str, list[tuple[dt.datetime, str]]] = defaultdict(list)
    for owner, kind, rating, text, at in session.execute(
        select(Feedback.customer_id, Feedback.kind, Feedback.rating, Feedback.text_redacted, Feedback.created_at)
        .where(Feedback.customer_id.in_(ids))
        .order_by(Feedback.created_at.desc())
    ):
        cid = str(owner)
        if kind in ("csat", "nps") and rating is not None:
            ratings[cid][kind].append(rating)
        elif kind == "text" and text and len(said[cid]) < QUOTES:
            said[cid].append((at, text))
    members = []
    for cid in ids:
        answer = joined[cid]
        csat = ratings[cid]["csat"]
        via = "campaign" if (cid, answer.created_at.date()) in campaign_days else "conversation"
        code = segments.get(cid)
        members.append(
            Member(
                customer_id=cid,
                joined_at=answer.created_at,
                via=via,
                segment=SEGMENTS_BY_CODE[code].name if code in SEGMENTS_BY_CODE else "–",
                nps=ratings[cid]["nps"][0] if ratings[cid]["nps"] else None,
                csat=sum(csat) / len(csat) if csat else None,
                said=said[cid],
            )
        )
    sent = session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.campaign == "programme_invitation", OutboxMessage.status == "sent")
    )
    latest = {a.customer_id: a.accepted for a in answers}
    return Programme(
        members=members,
        invited=len(latest),
        accepted=sum(latest.values()),
        declined=len(latest) - sum(latest.values()),
        invitations_sent=int(sent or 0),
    )


EXPORT_COLUMNS = (
    "customer_id",
    "first_name",
    "last_name",
    "email",
    "locale",
    "time_zone",
    "joined_at",
    "via",
    "segment",
    "latest_nps",
    "mean_csat",
    "what_they_said",
)


def export_csv(session: Session, members: list[Member]) -> str:
    """The product team's list (personal data: the caller audits it); formula-like cells are defused."""
    people = {
        c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_([m.customer_id for m in members])))
    }
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    for m in members:
        person = people.get(m.customer_id)
        if person is None:
            continue
        writer.writerow(
            [
                _safe(value)
                for value in (
                    m.customer_id,
                    person.first_name,
                    person.last_name,
                    person.email,
                    person.locale,
                    person.time_zone,
                    m.joined_at.isoformat(timespec="seconds"),
                    m.via,
                    m.segment,
                    "" if m.nps is None else m.nps,
                    "" if m.csat is None else f"{m.csat:.1f}",
                    " | ".join(text for _, text in m.said),
                )
            ]
        )
    return out.getvalue()


def _safe(value: object) -> object:
    """A cell a spreadsheet would run as a formula gets a leading ``'`` (as the conversation export does)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
