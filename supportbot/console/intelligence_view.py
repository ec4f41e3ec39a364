"""What the console shows of customer intelligence: segments and their trend, churn risk with reasons,
next best actions and what planning did with them, lifetime value, and one customer's card.

Read-only queries over the tables ``supportbot.intelligence`` fills (docs/INTELLIGENCE.md); nothing
here computes a model. Pages show customer ids, never names: the figures are about groups and
reasons, and the customer page (leads) is where personal data is revealed, audited.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from supportbot.intelligence.churn import default_model_dir, model_metadata
from supportbot.intelligence.segment_catalogue import SEGMENTS, SEGMENTS_BY_CODE, Segment
from supportbot.store.intelligence_models import (
    ChurnScore,
    ClvScore,
    CustomerSegment,
    IntelRun,
    NextBestAction,
    SegmentStat,
)
from supportbot.store.models import Subscription
from supportbot.store.outreach_models import OutboxMessage

ACTION_NAMES = {
    "retention_offer": "Retention offer",
    "usage_tip": "Usage tip",
    "referral_invitation": "Referral invitation",
    "loyalty_perk": "Loyalty perk",
    "none": "Nothing now",
}
LIST_LIMIT = 100


def latest_run(session: Session, kind: str) -> IntelRun | None:
    return session.scalar(select(IntelRun).where(IntelRun.kind == kind).order_by(IntelRun.id.desc()).limit(1))


@dataclass(frozen=True)
class SegmentRow:
    segment: Segment
    stat: SegmentStat | None
    share: float | None
    trend: list[tuple[str, float]]
    """(run day, customers) over the runs, oldest first."""


@dataclass(frozen=True)
class SegmentOverview:
    run: IntelRun | None
    rows: list[SegmentRow]
    total: int
    runs: list[IntelRun]


def segment_overview(session: Session, *, max_runs: int = 24) -> SegmentOverview:
    """The latest run's figures per segment, and each segment's size over the last ``max_runs`` runs."""
    runs = list(
        reversed(
            list(
                session.scalars(
                    select(IntelRun).where(IntelRun.kind == "segments").order_by(IntelRun.id.desc()).limit(max_runs)
                )
            )
        )
    )
    if not runs:
        return SegmentOverview(None, [SegmentRow(s, None, None, []) for s in SEGMENTS], 0, [])
    stats = list(session.scalars(select(SegmentStat).where(SegmentStat.run_id.in_([r.id for r in runs]))))
    by_run: dict[int, dict[str, SegmentStat]] = defaultdict(dict)
    for stat in stats:
        by_run[stat.run_id][stat.segment] = stat
    latest = runs[-1]
    total = sum(s.customers for s in by_run[latest.id].values())
    rows = []
    for segment in SEGMENTS:
        current = by_run[latest.id].get(segment.code)
        trend = [
            (run.as_of.strftime("%d %b %y"), float(by_run[run.id][segment.code].customers))
            for run in runs
            if segment.code in by_run[run.id]
        ]
        rows.append(SegmentRow(segment, current, current.customers / total if current and total else None, trend))
    return SegmentOverview(latest, rows, total, runs)


def segment_series(session: Session, code: str, *, max_runs: int = 24) -> list[tuple[IntelRun, SegmentStat]]:
    """One segment's figures run by run, oldest first (the trend on the segment's page)."""
    query = (
        select(IntelRun, SegmentStat)
        .join(SegmentStat, SegmentStat.run_id == IntelRun.id)
        .where(IntelRun.kind == "segments", SegmentStat.segment == code)
        .order_by(IntelRun.id.desc())
        .limit(max_runs)
    )
    return [(run, stat) for run, stat in reversed(session.execute(query).all())]


@dataclass(frozen=True)
class CustomerInsight:
    """One customer as intelligence sees them: for the agent's view, the customer page and the lists."""

    customer_id: str
    segment: Segment | None = None
    segment_why: str = ""
    risk: float | None = None
    reasons: tuple[str, ...] = ()
    model_version: str | None = None
    clv_cents: int | None = None
    order_clv_cents: int | None = None
    subscription_clv_cents: int | None = None
    probability_alive: float | None = None
    action: str | None = None
    action_reason: str = ""
    action_campaign: str | None = None
    decided_at: dt.datetime | None = None
    renews_on: dt.date | None = None

    @property
    def action_name(self) -> str:
        return ACTION_NAMES.get(self.action or "", self.action or "")

    @property
    def known(self) -> bool:
        return any(v is not None for v in (self.segment, self.risk, self.clv_cents, self.action))


def insights_for(session: Session, ids: list[str]) -> dict[str, CustomerInsight]:
    """Segment, churn risk and reasons, lifetime value and the newest decision of each customer in ``ids``."""
    if not ids:
        return {}
    segments = {
        s.customer_id: s for s in session.scalars(select(CustomerSegment).where(CustomerSegment.customer_id.in_(ids)))
    }
    risks = {r.customer_id: r for r in session.scalars(select(ChurnScore).where(ChurnScore.customer_id.in_(ids)))}
    values = {v.customer_id: v for v in session.scalars(select(ClvScore).where(ClvScore.customer_id.in_(ids)))}
    newest = (
        select(NextBestAction.customer_id, func.max(NextBestAction.id).label("id"))
        .where(NextBestAction.customer_id.in_(ids))
        .group_by(NextBestAction.customer_id)
        .subquery()
    )
    actions = {
        a.customer_id: a for a in session.scalars(select(NextBestAction).join(newest, NextBestAction.id == newest.c.id))
    }
    renewals: dict[str, dt.date] = {}
    for cid, renews_on in session.execute(
        select(Subscription.customer_id, Subscription.renews_on)
        .where(Subscription.customer_id.in_(ids), Subscription.status != "cancelled")
        .order_by(Subscription.started_on, Subscription.id)
    ):
        if renews_on is not None:
            renewals[cid] = renews_on
    out = {}
    for cid in ids:
        seg, risk, value, action = segments.get(cid), risks.get(cid), values.get(cid), actions.get(cid)
        out[cid] = CustomerInsight(
            customer_id=cid,
            segment=SEGMENTS_BY_CODE.get(seg.segment) if seg else None,
            segment_why=seg.why if seg else "",
            risk=risk.probability if risk else None,
            reasons=tuple(r["text"] for r in json.loads(risk.reasons)) if risk else (),
            model_version=risk.model_version if risk else None,
            clv_cents=value.order_clv_12m_cents + value.subscription_value_12m_cents if value else None,
            order_clv_cents=value.order_clv_12m_cents if value else None,
            subscription_clv_cents=value.subscription_value_12m_cents if value else None,
            probability_alive=value.probability_alive if value else None,
            action=action.action if action else None,
            action_reason=action.reason if action else "",
            action_campaign=action.campaign if action else None,
            decided_at=action.decided_at if action else None,
            renews_on=renewals.get(cid),
        )
    return out


def customer_insight(session: Session, customer_id: str) -> CustomerInsight:
    return insights_for(session, [customer_id])[customer_id]


def segment_members(session: Session, code: str, *, limit: int = LIST_LIMIT) -> list[CustomerInsight]:
    ids = list(
        session.scalars(
            select(CustomerSegment.customer_id)
            .outerjoin(ChurnScore, ChurnScore.customer_id == CustomerSegment.customer_id)
            .where(CustomerSegment.segment == code)
            .order_by(ChurnScore.probability.desc().nulls_last(), CustomerSegment.customer_id)
            .limit(limit)
        )
    )
    found = insights_for(session, ids)
    return [found[cid] for cid in ids]


@dataclass(frozen=True)
class ChurnOverview:
    scored: int
    mean_risk: float | None
    at_risk: int
    """Customers at or above 50 % (the ``at_risk`` segment's threshold)."""
    distribution: list[tuple[str, float]]
    """(risk band, customers): ten bands of 10 %."""
    top: list[CustomerInsight]
    model: dict[str, Any] | None
    """The newest training run's metadata (version, origin, backtest with its reliability table)."""
    scored_at: dt.datetime | None


def churn_overview(session: Session, *, limit: int = 50) -> ChurnOverview:
    probabilities = list(session.scalars(select(ChurnScore.probability)))
    bands = Counter(min(int(p * 10), 9) for p in probabilities)
    ids = list(
        session.scalars(
            select(ChurnScore.customer_id).order_by(ChurnScore.probability.desc(), ChurnScore.customer_id).limit(limit)
        )
    )
    found = insights_for(session, ids)
    score = latest_run(session, "churn_score")
    model = _model_card(session, score.model_version if score else None)
    return ChurnOverview(
        scored=len(probabilities),
        mean_risk=sum(probabilities) / len(probabilities) if probabilities else None,
        at_risk=sum(p >= 0.5 for p in probabilities),
        distribution=[(f"{10 * b}-{10 * b + 10} %", float(bands.get(b, 0))) for b in range(10)],
        top=[found[cid] for cid in ids],
        model=model,
        scored_at=score.as_of if score else None,
    )


def _model_card(session: Session, version: str | None) -> dict[str, Any] | None:
    """The scoring model's metadata: its training run in this store, or its ``metadata.json`` (a model
    trained on another store, such as the demo's synthetic history, has its run there)."""
    if version is None:
        return None
    train = session.scalar(
        select(IntelRun)
        .where(IntelRun.kind == "churn_train", IntelRun.model_version == version)
        .order_by(IntelRun.id.desc())
        .limit(1)
    )
    if train is not None:
        card: dict[str, Any] = json.loads(train.summary)
        return card
    return model_metadata(default_model_dir(), version)


@dataclass(frozen=True)
class DecisionRow:
    decision: NextBestAction
    outcome: str
    """What planning did with it: the outbox row of that campaign since the decision, in words."""


@dataclass(frozen=True)
class ActionsOverview:
    run: IntelRun | None
    counts: list[tuple[str, int]]
    rows: list[DecisionRow]
    wanted: str
    rules: list[tuple[str, int]] = field(default_factory=list)


def actions_overview(session: Session, *, action: str = "", limit: int = LIST_LIMIT) -> ActionsOverview:
    """The latest decision run: counts per action and per rule, and its decisions (one action, or every action)."""
    run = latest_run(session, "next_best_action")
    if run is None:
        return ActionsOverview(None, [], [], action)
    counts = Counter(
        dict(
            session.execute(
                select(NextBestAction.action, func.count())
                .where(NextBestAction.run_id == run.id)
                .group_by(NextBestAction.action)
            ).all()
        )
    )
    rules = Counter(
        dict(
            session.execute(
                select(NextBestAction.rule, func.count())
                .where(NextBestAction.run_id == run.id)
                .group_by(NextBestAction.rule)
            ).all()
        )
    )
    query = select(NextBestAction).where(NextBestAction.run_id == run.id)
    query = query.where(NextBestAction.action == action) if action else query.where(NextBestAction.action != "none")
    decisions = list(session.scalars(query.order_by(NextBestAction.customer_id).limit(limit)))
    outcomes = _outcomes(session, decisions)
    ordered = [(name, counts.get(name, 0)) for name in ACTION_NAMES]
    return ActionsOverview(
        run,
        ordered,
        [DecisionRow(d, outcomes.get(d.id, "")) for d in decisions],
        action,
        sorted(rules.items(), key=lambda item: (-item[1], item[0])),
    )


def _outcomes(session: Session, decisions: list[NextBestAction]) -> dict[int, str]:
    """For decisions naming a campaign: the newest outbox row of it planned since, as "sent 3 Dec" or the skip."""
    wanted = [d for d in decisions if d.campaign]
    if not wanted:
        return {}
    since = min(d.decided_at for d in wanted)
    rows: dict[tuple[str, str], list[OutboxMessage]] = defaultdict(list)
    for row in session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.customer_id.in_([d.customer_id for d in wanted]),
            OutboxMessage.planned_at >= since,
        )
        .order_by(OutboxMessage.planned_at)
    ):
        rows[(row.customer_id, row.campaign)].append(row)
    out = {}
    for d in wanted:
        later = [r for r in rows.get((d.customer_id, str(d.campaign)), []) if r.planned_at >= d.decided_at]
        if not later:
            out[d.id] = "not planned yet"
            continue
        row = later[-1]
        if row.status == "sent" and row.sent_at:
            out[d.id] = f"sent {row.sent_at:%d %b %H:%M}"
        elif row.status == "skipped":
            out[d.id] = f"skipped: {row.skip_reason}"
        else:
            out[d.id] = f"{row.status} for {row.not_before:%d %b %H:%M} UTC"
    return out


@dataclass(frozen=True)
class ValueOverview:
    run: IntelRun | None
    customers: int
    total_cents: int
    mean_cents: float | None
    order_cents: int
    subscription_cents: int
    mean_alive: float | None
    distribution: list[tuple[str, float]]
    top: list[CustomerInsight]
    parameters: dict[str, Any]
    by_segment: list[tuple[Segment, int, int | None]]
    """(segment, customers, mean 12-month value in cents) at the latest segments run."""
    trend: list[tuple[str, float | None]]
    """(run day, mean value in dollars over every segmented customer), oldest first."""


BANDS = (0, 5000, 10000, 20000, 40000, 80000)
"""Lifetime-value bands in cents ($0, $50, $100, $200, $400, $800+)."""


def value_overview(session: Session, *, limit: int = 25) -> ValueOverview:
    run = latest_run(session, "clv")
    scores = list(session.scalars(select(ClvScore)))
    totals = [s.order_clv_12m_cents + s.subscription_value_12m_cents for s in scores]
    bands: Counter[int] = Counter()
    for total in totals:
        bands[max(i for i, floor in enumerate(BANDS) if total >= floor)] += 1
    labels = [f"${BANDS[i] // 100}-{BANDS[i + 1] // 100}" for i in range(len(BANDS) - 1)] + [f"${BANDS[-1] // 100}+"]
    ranked = sorted(scores, key=lambda s: (-(s.order_clv_12m_cents + s.subscription_value_12m_cents), s.customer_id))
    ids = [s.customer_id for s in ranked[:limit]]
    found = insights_for(session, ids)
    overview = segment_overview(session)
    by_segment = [
        (row.segment, row.stat.customers, row.stat.mean_clv_12m_cents) for row in overview.rows if row.stat is not None
    ]
    return ValueOverview(
        run=run,
        customers=len(scores),
        total_cents=sum(totals),
        mean_cents=sum(totals) / len(totals) if totals else None,
        order_cents=sum(s.order_clv_12m_cents for s in scores),
        subscription_cents=sum(s.subscription_value_12m_cents for s in scores),
        mean_alive=(sum(s.probability_alive for s in scores) / len(scores)) if scores else None,
        distribution=[(labels[i], float(bands.get(i, 0))) for i in range(len(labels))],
        top=[found[cid] for cid in ids],
        parameters=json.loads(run.summary) if run else {},
        by_segment=by_segment,
        trend=clv_trend(session),
    )


def clv_trend(session: Session, *, max_runs: int = 24) -> list[tuple[str, float | None]]:
    """Mean 12-month lifetime value (dollars) per segments run, weighted by segment size; oldest first."""
    runs = list(
        reversed(
            list(
                session.scalars(
                    select(IntelRun).where(IntelRun.kind == "segments").order_by(IntelRun.id.desc()).limit(max_runs)
                )
            )
        )
    )
    stats: dict[int, list[SegmentStat]] = defaultdict(list)
    for stat in session.scalars(select(SegmentStat).where(SegmentStat.run_id.in_([r.id for r in runs]))):
        stats[stat.run_id].append(stat)
    out = []
    for run in runs:
        valued = [s for s in stats[run.id] if s.mean_clv_12m_cents is not None and s.customers]
        people = sum(s.customers for s in valued)
        mean = sum((s.mean_clv_12m_cents or 0) * s.customers for s in valued) / people / 100 if people else None
        out.append((run.as_of.strftime("%d %b %y"), mean))
    return out


def money(cents: float | int | None) -> str:
    return "–" if cents is None else f"${cents / 100:,.2f}"


def percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f} %"
