"""The KPIs: conversations per day, containment, handoff and fallback rates, CSAT, NPS, outreach.

Definitions (also in docs/CONSOLE.md):
- a conversation counts on a day when the customer wrote at least one message that day
  (proactive triggers are not the customer writing);
- containment = conversations in the period without a handoff / conversations; handoff
  rate is the rest;
- fallback rate = customer messages classified ``nlu_fallback`` / customer messages;
- CSAT = mean of 1–5 ratings; NPS = % promoters (9–10) − % detractors (0–6), per ISO week;
- proactive reply and opt-out rates = share of messages sent in the period that were
  replied to / followed by an opt-out (``outreach_view``).
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from supportbot.console import tracker
from supportbot.console.outreach_view import Outcome
from supportbot.feedback.ratings import segment
from supportbot.store.feedback_models import Feedback
from supportbot.store.models import SupportInteraction


@dataclass(frozen=True)
class Period:
    since: dt.date
    until: dt.date
    """Inclusive."""

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.combine(self.since, dt.time(), dt.UTC)

    @property
    def end(self) -> dt.datetime:
        return dt.datetime.combine(self.until + dt.timedelta(days=1), dt.time(), dt.UTC)

    def days(self) -> list[dt.date]:
        return [self.since + dt.timedelta(days=n) for n in range((self.until - self.since).days + 1)]


def share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class ConversationKpis:
    per_day: list[tuple[dt.date, int]]
    conversations: int
    handoffs: int
    customer_messages: int
    fallbacks: int

    @property
    def containment(self) -> float | None:
        return share(self.conversations - self.handoffs, self.conversations)

    @property
    def handoff_rate(self) -> float | None:
        return share(self.handoffs, self.conversations)

    @property
    def fallback_rate(self) -> float | None:
        return share(self.fallbacks, self.customer_messages)


def conversation_kpis(connection: Connection | None, period: Period) -> ConversationKpis:
    if connection is None:
        return ConversationKpis([(day, 0) for day in period.days()], 0, 0, 0, 0)
    days: dict[dt.date, set[str]] = defaultdict(set)
    senders: set[str] = set()
    messages = fallbacks = 0
    for turn in tracker.user_turns(connection, since=period.start, until=period.end):
        if (turn.intent or "").startswith(tracker.PROACTIVE_PREFIX):
            continue
        days[turn.at.date()].add(turn.sender_id)
        senders.add(turn.sender_id)
        messages += 1
        fallbacks += turn.intent == tracker.FALLBACK_INTENT
    handoffs = tracker.handoff_senders(connection, since=period.start, until=period.end) & senders
    return ConversationKpis(
        per_day=[(day, len(days.get(day, ()))) for day in period.days()],
        conversations=len(senders),
        handoffs=len(handoffs),
        customer_messages=messages,
        fallbacks=fallbacks,
    )


def iso_week(moment: dt.datetime) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


@dataclass(frozen=True)
class RatingKpis:
    csat: float | None
    csat_count: int
    nps: float | None
    nps_count: int
    csat_weekly: list[tuple[str, float | None]]
    nps_weekly: list[tuple[str, float | None]]


def _nps(ratings: list[int]) -> float | None:
    if not ratings:
        return None
    segments = [segment(scale="nps", rating=r) for r in ratings]
    return 100.0 * (segments.count("promoter") - segments.count("detractor")) / len(ratings)


def _mean(values: list[int]) -> float | None:
    return sum(values) / len(values) if values else None


def rating_kpis(session: Session, period: Period) -> RatingKpis:
    weeks = sorted({iso_week(dt.datetime.combine(day, dt.time(), dt.UTC)) for day in period.days()})
    by_week: dict[tuple[str, str], list[int]] = defaultdict(list)
    for kind, rating, created_at in session.execute(
        select(Feedback.kind, Feedback.rating, Feedback.created_at).where(
            Feedback.kind.in_(("csat", "nps")),
            Feedback.rating.is_not(None),
            Feedback.created_at >= period.start,
            Feedback.created_at < period.end,
        )
    ):
        if rating is not None:
            by_week[(kind, iso_week(created_at))].append(rating)
    csat_all = [r for (kind, _), values in by_week.items() if kind == "csat" for r in values]
    nps_all = [r for (kind, _), values in by_week.items() if kind == "nps" for r in values]
    return RatingKpis(
        csat=_mean(csat_all),
        csat_count=len(csat_all),
        nps=_nps(nps_all),
        nps_count=len(nps_all),
        csat_weekly=[(week, _mean(by_week.get(("csat", week), []))) for week in weeks],
        nps_weekly=[(week, _nps(by_week.get(("nps", week), []))) for week in weeks],
    )


@dataclass(frozen=True)
class OutreachKpis:
    sent: int
    replied: int
    opted_out: int

    @property
    def reply_rate(self) -> float | None:
        return share(self.replied, self.sent)

    @property
    def opt_out_rate(self) -> float | None:
        return share(self.opted_out, self.sent)


def outreach_kpis(results: list[Outcome]) -> OutreachKpis:
    return OutreachKpis(
        sent=len(results),
        replied=sum(o.replied for o in results),
        opted_out=sum(o.opted_out for o in results),
    )


@dataclass(frozen=True)
class HandoffKpis:
    """The people's side (issue 17): handoffs asked for in the period, and what became of them."""

    requested: int
    per_day: list[tuple[dt.date, int]]
    first_reply_median: dt.timedelta | None
    """From asking for a person to a person's first message, over those answered."""
    closed: int
    resolved: int
    by_agent: list[tuple[int, int, int]]
    """(console user id, closed, of which resolved), most closed first."""

    @property
    def resolved_share(self) -> float | None:
        return share(self.resolved, self.closed)

    @property
    def per_day_mean(self) -> float:
        return self.requested / len(self.per_day) if self.per_day else 0.0

    @property
    def busiest_day(self) -> str:
        day, count = max(self.per_day, key=lambda item: (item[1], item[0]), default=(None, 0))
        return f"{day:%d %b}: {count}" if day is not None and count else "–"


def handoff_kpis(session: Session, period: Period) -> HandoffKpis:
    rows = session.execute(
        select(
            SupportInteraction.created_at,
            SupportInteraction.waiting_since,
            SupportInteraction.first_reply_at,
            SupportInteraction.status,
            SupportInteraction.outcome,
            SupportInteraction.closed_by,
        ).where(
            SupportInteraction.kind == "handoff",
            SupportInteraction.created_at >= period.start,
            SupportInteraction.created_at < period.end,
        )
    ).all()
    days = dict.fromkeys(period.days(), 0)
    waits: list[float] = []
    agents: dict[int, tuple[int, int]] = {}
    for created, waiting_since, first_reply, status, outcome, closed_by in rows:
        days[created.date()] = days.get(created.date(), 0) + 1
        if first_reply is not None:
            waits.append((first_reply - (waiting_since or created)).total_seconds())
        if status == "closed" and closed_by is not None:
            closed, resolved = agents.get(closed_by, (0, 0))
            agents[closed_by] = (closed + 1, resolved + (outcome == "resolved"))
    closed_rows = [row for row in rows if row.status == "closed"]
    return HandoffKpis(
        requested=len(rows),
        per_day=sorted(days.items()),
        first_reply_median=dt.timedelta(seconds=statistics.median(waits)) if waits else None,
        closed=len(closed_rows),
        resolved=sum(1 for row in closed_rows if row.outcome == "resolved"),
        by_agent=sorted(((agent, c, r) for agent, (c, r) in agents.items()), key=lambda x: (-x[1], x[0])),
    )
