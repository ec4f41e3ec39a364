"""The growth KPIs beside CSAT, NPS and containment: repeat purchase, referrals, lifetime value,
per segment and month by month.

Definitions (also in docs/CONSOLE.md and docs/INTELLIGENCE.md):
- **repeat purchase rate** = buyers in the period who had bought before it ÷ buyers in the period
  (an order counts unless cancelled or returned);
- **referral rate** = customers who joined in the period (``customer_since``) and were referred
  (``referrals``) ÷ customers who joined in the period; beside it the referrals recorded in the
  period and the referral invitations sent (``referral_invitation`` messages);
- **lifetime value** = mean 12-month value (orders by BG/NBD × Gamma-Gamma, plus the subscription)
  of the latest ``clv_scores``; over time from each segments run's per-segment means;
- **per segment** (the customer's current segment): customers, conversations and containment
  (verified conversations in the period without a handoff ÷ verified conversations), CSAT and NPS
  of the period's ratings, repeat purchase rate, referrals made per 100 customers, mean value.
Month by month: the twelve calendar months ending with the period's last day.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from supportbot.console import charts, tracker
from supportbot.console.kpis import Period, share
from supportbot.console.stores import linked_senders
from supportbot.feedback.ratings import segment as rating_segment
from supportbot.intelligence.segment_catalogue import SEGMENTS, Segment
from supportbot.store.feedback_models import Feedback
from supportbot.store.growth_models import Referral
from supportbot.store.intelligence_models import ClvScore, CustomerSegment
from supportbot.store.models import Customer, Order
from supportbot.store.outreach_models import OutboxMessage

COUNTED = ("cancelled", "returned")
"""Order statuses that are not a purchase."""
MONTHS = 12


@dataclass(frozen=True)
class Month:
    label: str
    buyers: int
    returning: int
    joined: int
    referred: int
    referrals: int

    @property
    def repeat_rate(self) -> float | None:
        return share(self.returning, self.buyers)

    @property
    def referral_rate(self) -> float | None:
        return share(self.referred, self.joined)


@dataclass(frozen=True)
class SegmentGrowth:
    segment: Segment
    customers: int
    conversations: int
    handoffs: int
    csat: float | None
    nps: float | None
    buyers: int
    returning: int
    referrals: int
    mean_clv_cents: float | None

    @property
    def containment(self) -> float | None:
        return share(self.conversations - self.handoffs, self.conversations)

    @property
    def repeat_rate(self) -> float | None:
        return share(self.returning, self.buyers)

    @property
    def referrals_per_100(self) -> float | None:
        return 100 * self.referrals / self.customers if self.customers else None


@dataclass(frozen=True)
class GrowthKpis:
    buyers: int
    returning: int
    joined: int
    referred: int
    referrals: int
    invited: int
    mean_clv_cents: float | None
    valued: int
    months: list[Month]
    by_segment: list[SegmentGrowth]

    @property
    def repeat_rate(self) -> float | None:
        return share(self.returning, self.buyers)

    @property
    def referral_rate(self) -> float | None:
        return share(self.referred, self.joined)


def _month_starts(until: dt.date) -> list[dt.date]:
    first = until.replace(day=1)
    starts = [first]
    for _ in range(MONTHS - 1):
        previous = starts[-1] - dt.timedelta(days=1)
        starts.append(previous.replace(day=1))
    return list(reversed(starts))


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), dt.UTC)


def _buyers(orders: dict[str, list[dt.datetime]], start: dt.datetime, end: dt.datetime) -> tuple[set[str], set[str]]:
    """(buyers in [start, end), those of them with an order before start)."""
    buyers, returning = set(), set()
    for cid, placed in orders.items():
        if any(start <= t < end for t in placed):
            buyers.add(cid)
            if placed[0] < start:
                returning.add(cid)
    return buyers, returning


def growth_kpis(session: Session, connection: Connection | None, period: Period) -> GrowthKpis:
    orders: dict[str, list[dt.datetime]] = defaultdict(list)
    for cid, placed in session.execute(
        select(Order.customer_id, Order.placed_at).where(Order.status.not_in(COUNTED)).order_by(Order.placed_at)
    ):
        orders[cid].append(placed)
    joined_on = dict(session.execute(select(Customer.id, Customer.customer_since)).all())
    referrals: list[tuple[str, str | None, dt.datetime]] = [
        (cid, referrer, at)
        for cid, referrer, at in session.execute(
            select(Referral.customer_id, Referral.referrer_id, Referral.recorded_at)
        )
    ]
    referred_ids = {cid for cid, _, _ in referrals}
    segments = dict(session.execute(select(CustomerSegment.customer_id, CustomerSegment.segment)).all())
    values = {
        cid: o + s
        for cid, o, s in session.execute(
            select(ClvScore.customer_id, ClvScore.order_clv_12m_cents, ClvScore.subscription_value_12m_cents)
        )
    }

    buyers, returning = _buyers(orders, period.start, period.end)
    joined = {cid for cid, since in joined_on.items() if period.since <= since <= period.until}
    in_period = [r for r in referrals if period.start <= r[2] < period.end]
    invited = (
        session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(
                OutboxMessage.campaign == "referral_invitation",
                OutboxMessage.status == "sent",
                OutboxMessage.sent_at >= period.start,
                OutboxMessage.sent_at < period.end,
            )
        )
        or 0
    )
    months = []
    for start in _month_starts(period.until):
        end = (start + dt.timedelta(days=32)).replace(day=1)
        month_buyers, month_returning = _buyers(orders, _at(start), _at(end))
        month_joined = {cid for cid, since in joined_on.items() if start <= since < end}
        months.append(
            Month(
                label=start.strftime("%b %y"),
                buyers=len(month_buyers),
                returning=len(month_returning),
                joined=len(month_joined),
                referred=len(month_joined & referred_ids),
                referrals=sum(_at(start) <= at < _at(end) for _, _, at in referrals),
            )
        )
    return GrowthKpis(
        buyers=len(buyers),
        returning=len(returning),
        joined=len(joined),
        referred=len(joined & referred_ids),
        referrals=len(in_period),
        invited=int(invited),
        mean_clv_cents=sum(values.values()) / len(values) if values else None,
        valued=len(values),
        months=months,
        by_segment=_by_segment(session, connection, period, segments, buyers, returning, in_period, values),
    )


def _by_segment(
    session: Session,
    connection: Connection | None,
    period: Period,
    segments: dict[str, str],
    buyers: set[str],
    returning: set[str],
    referrals: list[tuple[str, str | None, dt.datetime]],
    values: dict[str, int],
) -> list[SegmentGrowth]:
    members: dict[str, list[str]] = defaultdict(list)
    for cid, code in segments.items():
        members[code].append(cid)
    talked, handed = _conversations_by_customer(session, connection, period)
    ratings: dict[tuple[str, str], list[int]] = defaultdict(list)
    for owner, kind, rating in session.execute(
        select(Feedback.customer_id, Feedback.kind, Feedback.rating).where(
            Feedback.kind.in_(("csat", "nps")),
            Feedback.rating.is_not(None),
            Feedback.created_at >= period.start,
            Feedback.created_at < period.end,
        )
    ):
        if owner is not None and owner in segments and rating is not None:
            ratings[(segments[owner], kind)].append(rating)
    referrers: dict[str, int] = defaultdict(int)
    for _, referrer, _ in referrals:
        if referrer is not None and referrer in segments:
            referrers[segments[referrer]] += 1
    out = []
    for seg in SEGMENTS:
        ids = set(members.get(seg.code, []))
        csat = ratings.get((seg.code, "csat"), [])
        nps = ratings.get((seg.code, "nps"), [])
        groups = [rating_segment(scale="nps", rating=r) for r in nps]
        worth = [values[cid] for cid in ids if cid in values]
        out.append(
            SegmentGrowth(
                segment=seg,
                customers=len(ids),
                conversations=sum(talked.get(cid, 0) for cid in ids),
                handoffs=sum(handed.get(cid, 0) for cid in ids),
                csat=sum(csat) / len(csat) if csat else None,
                nps=100 * (groups.count("promoter") - groups.count("detractor")) / len(nps) if nps else None,
                buyers=len(buyers & ids),
                returning=len(returning & ids),
                referrals=referrers.get(seg.code, 0),
                mean_clv_cents=sum(worth) / len(worth) if worth else None,
            )
        )
    return out


def _conversations_by_customer(
    session: Session, connection: Connection | None, period: Period
) -> tuple[dict[str, int], dict[str, int]]:
    """Verified conversations the customer wrote in during the period, and those with a handoff, per customer."""
    if connection is None:
        return {}, {}
    linked = linked_senders(session)
    senders: set[str] = set()
    for turn in tracker.user_turns(connection, since=period.start, until=period.end):
        if not (turn.intent or "").startswith(tracker.PROACTIVE_PREFIX):
            senders.add(turn.sender_id)
    handoffs = tracker.handoff_senders(connection, since=period.start, until=period.end)
    talked: dict[str, int] = defaultdict(int)
    handed: dict[str, int] = defaultdict(int)
    for sender in senders:
        cid = tracker.customer_of_sender(sender, linked)
        if cid is not None:
            talked[cid] += 1
            handed[cid] += sender in handoffs
    return talked, handed


def charts_for(growth: GrowthKpis, clv_trend: list[tuple[str, float | None]]) -> dict[str, Any]:
    """The dashboard's growth charts: two rates per month (percent) and the lifetime value per refresh."""
    months = growth.months
    repeat = [(m.label, 100 * m.repeat_rate if m.repeat_rate is not None else None) for m in months]
    referral = [(m.label, 100 * m.referral_rate if m.referral_rate is not None else None) for m in months]
    known = [v for _, v in clv_trend if v is not None]
    return {
        "repeat_chart": charts.line_chart("Repeat purchase rate per month (%)", repeat, lower=0, upper=100),
        "referral_chart": charts.line_chart("Referral rate per month (%)", referral, lower=0, upper=100),
        "clv_chart": charts.line_chart(
            "Mean 12-month lifetime value ($) per refresh",
            clv_trend,
            lower=0,
            upper=charts.nice_ceiling(max([*known, 1.0]) * 1.1),
        ),
    }
