"""What proactive outreach achieved: per message, whether the customer replied, opted out or renewed.

A reply is a customer message in the same conversation within ``REPLY_WINDOW`` of the send,
and before the next proactive message there (the tracker store); an opt-out is the
``opt_out`` intent in that window, or the consent for the message's kind withdrawn in it
(the profile store, so an opt-out on another channel counts too). A renewal reminder
"worked" when the customer renewed within 7 days: the renewal service records a
``renewal`` support interaction and ``last_renewed_at``.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from supportbot.console import tracker
from supportbot.store.models import Consent, Subscription, SupportInteraction
from supportbot.store.outreach_models import OutboxMessage

REPLY_WINDOW = dt.timedelta(hours=48)
RENEWAL_WINDOW = dt.timedelta(days=7)
RENEWAL_KIND = "renewal"
LIST_LIMIT = 50


@dataclass(frozen=True)
class Outcome:
    outbox_id: int
    campaign: str
    kind: str
    sent_at: dt.datetime
    replied: bool
    opted_out: bool
    renewed: bool | None
    """Only for renewal reminders."""


@dataclass
class CampaignSummary:
    campaign: str
    sent: int = 0
    replied: int = 0
    opted_out: int = 0
    renewals_reminded: int = 0
    renewed: int = 0
    statuses: Counter[str] = field(default_factory=Counter)

    @property
    def renewed_share(self) -> float | None:
        return self.renewed / self.renewals_reminded if self.renewals_reminded else None


def _renewed(session: Session, customer_id: str, sent_at: dt.datetime) -> bool:
    until = sent_at + RENEWAL_WINDOW
    interaction = session.scalar(
        select(SupportInteraction.id)
        .where(
            SupportInteraction.customer_id == customer_id,
            SupportInteraction.kind == RENEWAL_KIND,
            SupportInteraction.created_at >= sent_at,
            SupportInteraction.created_at < until,
        )
        .limit(1)
    )
    if interaction is not None:
        return True
    renewed = session.scalar(
        select(Subscription.id)
        .where(
            Subscription.customer_id == customer_id,
            Subscription.last_renewed_at >= sent_at,
            Subscription.last_renewed_at < until,
        )
        .limit(1)
    )
    return renewed is not None


def outcomes(
    session: Session, connection: Connection | None, *, since: dt.datetime, until: dt.datetime
) -> list[Outcome]:
    """Every message sent in the period and what followed it."""
    sent = list(
        session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.status == "sent", OutboxMessage.sent_at >= since, OutboxMessage.sent_at < until
            )
        )
    )
    if not sent:
        return []
    first = min(row.sent_at for row in sent if row.sent_at is not None)
    later: dict[str, list[tracker.UserTurn]] = {}
    if connection is not None:
        for turn in tracker.turns_after(connection, {row.conversation_id for row in sent}, since=first):
            later.setdefault(turn.sender_id, []).append(turn)
    withdrawn = {
        (consent.customer_id, consent.kind): consent.updated_at
        for consent in session.scalars(
            select(Consent).where(
                Consent.granted.is_(False), Consent.customer_id.in_({row.customer_id for row in sent})
            )
        )
    }
    next_send: dict[int, dt.datetime] = {}
    by_conversation: dict[str, list[OutboxMessage]] = {}
    for row in sent:
        by_conversation.setdefault(row.conversation_id, []).append(row)
    for rows in by_conversation.values():
        rows.sort(key=lambda r: (r.sent_at, r.id))
        for earlier, following in itertools.pairwise(rows):
            assert following.sent_at is not None
            next_send[earlier.id] = following.sent_at
    result = []
    for row in sent:
        assert row.sent_at is not None
        # A reply belongs to the latest proactive message before it: the window closes at the next one.
        window_end = min(row.sent_at + REPLY_WINDOW, next_send.get(row.id, row.sent_at + REPLY_WINDOW))
        window = [t for t in later.get(row.conversation_id, []) if row.sent_at < t.at <= window_end]
        customer_turns = [t for t in window if not (t.intent or "").startswith(tracker.PROACTIVE_PREFIX)]
        consent_at = withdrawn.get((row.customer_id, row.kind))
        opted_out = any(t.intent == tracker.OPT_OUT_INTENT for t in customer_turns) or (
            consent_at is not None and row.sent_at <= consent_at <= window_end
        )
        result.append(
            Outcome(
                outbox_id=row.id,
                campaign=row.campaign,
                kind=row.kind,
                sent_at=row.sent_at,
                replied=bool(customer_turns),
                opted_out=opted_out,
                renewed=_renewed(session, row.customer_id, row.sent_at) if row.kind == RENEWAL_KIND else None,
            )
        )
    return result


def campaign_summaries(session: Session, results: list[Outcome]) -> list[CampaignSummary]:
    """Per campaign: every status in the outbox, and sent / replied / opted out / renewed in the period."""
    summaries: dict[str, CampaignSummary] = {}
    for campaign, status, count in session.execute(
        select(OutboxMessage.campaign, OutboxMessage.status, func.count()).group_by(
            OutboxMessage.campaign, OutboxMessage.status
        )
    ):
        summaries.setdefault(campaign, CampaignSummary(campaign)).statuses[status] = int(count)
    for outcome in results:
        summary = summaries.setdefault(outcome.campaign, CampaignSummary(outcome.campaign))
        summary.sent += 1
        summary.replied += outcome.replied
        summary.opted_out += outcome.opted_out
        if outcome.renewed is not None:
            summary.renewals_reminded += 1
            summary.renewed += outcome.renewed
    return sorted(summaries.values(), key=lambda s: s.campaign)


def rows_with_status(session: Session, status: str, *, limit: int = LIST_LIMIT) -> list[OutboxMessage]:
    """Upcoming (planned, soonest first) or finished rows (latest first)."""
    stmt = select(OutboxMessage).where(OutboxMessage.status == status)
    if status == "planned":
        stmt = stmt.order_by(OutboxMessage.not_before, OutboxMessage.id)
    else:
        stmt = stmt.order_by(OutboxMessage.planned_at.desc(), OutboxMessage.id.desc())
    return list(session.scalars(stmt.limit(limit)))


def skip_reasons(session: Session) -> list[tuple[str, int]]:
    rows = session.execute(
        select(OutboxMessage.skip_reason, func.count())
        .where(OutboxMessage.status == "skipped")
        .group_by(OutboxMessage.skip_reason)
        .order_by(func.count().desc())
    )
    return [(reason or "(no reason)", int(count)) for reason, count in rows]
