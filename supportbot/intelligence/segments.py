"""Customer segments a support lead can read: rules over recency, frequency and value of orders,
product usage, plan and tenure, ratings and churn risk, first match wins.

Why rules and not clustering: a segment is used to decide and to explain ("send the dormant
ones a tip", "why is Maya a champion?"). Named rules with thresholds in one table give every
customer one segment with a reason in words, stable from one run to the next; k-means clusters
would need naming by hand after every recomputation and could swap meaning between runs.

``compute_segments`` replaces ``customer_segments`` and appends one ``segment_stats`` row per
segment (size, CSAT, NPS, mean churn risk, recurring and order revenue), which is the trend the
console charts. The scheduler job calls ``supportbot.intelligence.jobs.recompute_segments``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from supportbot.intelligence.features import DAY, features_at, subscription_at
from supportbot.intelligence.history import CustomerHistory, StoreHistory, load_history
from supportbot.intelligence.segment_catalogue import (
    AT_RISK,
    LOYAL_DAYS,
    NEW_DAYS,
    SEGMENTS,
    SEGMENTS_BY_CODE,
    TOP_SPEND_SHARE,
)
from supportbot.store.intelligence_models import ChurnScore, ClvScore, CustomerSegment, IntelRun, SegmentStat


@dataclass(frozen=True)
class Facts:
    """What the rules read about one customer now."""

    subscribed: bool
    tenure_days: int
    uses_30d: float
    orders_365d: float
    spend_365d: float
    low_rating_180d: bool
    promoter_365d: bool
    tickets_90d: float
    churn_risk: float | None


Rule = Callable[[Facts, float], str | None]


def _rules() -> list[tuple[str, Rule]]:
    """(segment, rule) in order; a rule returns the reason in words, or None if it does not apply."""
    return [
        ("former", lambda f, _: None if f.subscribed else "no subscription running"),
        ("newcomer", lambda f, _: f"customer for {f.tenure_days} days" if f.tenure_days < NEW_DAYS else None),
        ("unhappy", _unhappy),
        (
            "at_risk",
            lambda f, _: (
                f"churn risk {f.churn_risk:.0%}" if f.churn_risk is not None and f.churn_risk >= AT_RISK else None
            ),
        ),
        ("dormant", lambda f, _: "no feature used in the last 30 days" if f.uses_30d == 0 else None),
        ("champion", _champion),
        (
            "big_spender",
            lambda f, top: (
                f"spent {f.spend_365d:.2f} on orders in a year" if f.spend_365d > 0 and f.spend_365d >= top else None
            ),
        ),
        (
            "loyal_regular",
            lambda f, _: (
                f"customer for {f.tenure_days // 365} years, still active" if f.tenure_days >= LOYAL_DAYS else None
            ),
        ),
        ("steady", lambda f, _: "subscribed and active"),
    ]


def _unhappy(f: Facts, _top: float) -> str | None:
    if f.low_rating_180d:
        return "gave a low rating in the last 180 days"
    if f.tickets_90d >= 2:
        return f"needed a person or reported a problem {f.tickets_90d:.0f} times in 90 days"
    return None


def _champion(f: Facts, _top: float) -> str | None:
    if f.promoter_365d:
        return "recommends us (NPS 9–10)"
    if f.orders_365d >= 3 and f.uses_30d >= 20:
        return f"{f.orders_365d:.0f} orders in a year and {f.uses_30d:.0f} uses in 30 days"
    return None


def assign(facts: Facts, top_spend: float) -> tuple[str, str]:
    """The first segment whose rule applies, and why."""
    for code, rule in _rules():
        why = rule(facts, top_spend)
        if why is not None:
            return code, why
    raise AssertionError("the last rule always applies")


def facts_for(
    store: StoreHistory, history: CustomerHistory, as_of: dt.datetime, risk: float | None, *, current: bool = True
) -> Facts:
    """``current``: usage from the live table (now); False reads the snapshots (a past ``as_of``, ``backfill``)."""
    features = features_at(store, history, as_of, current=current)
    ratings = [r for r in history.ratings if r[0] < as_of]
    return Facts(
        subscribed=subscription_at(history, as_of) is not None and features is not None,
        tenure_days=(as_of.date() - history.customer_since).days,
        uses_30d=float(features["uses_30d"] or 0) if features else 0.0,
        orders_365d=float(features["orders_365d"] or 0) if features else 0.0,
        spend_365d=_spend(history, as_of),
        low_rating_180d=any(
            t >= as_of - 180 * DAY and ((k == "csat" and r <= 2) or (k == "nps" and r <= 6)) for t, k, r in ratings
        ),
        promoter_365d=any(t >= as_of - 365 * DAY and k == "nps" and r >= 9 for t, k, r in ratings),
        tickets_90d=float(
            sum(
                t < as_of and t >= as_of - 90 * DAY and k in ("handoff", "problem_report")
                for t, k in history.interactions
            )
        ),
        churn_risk=risk,
    )


def _spend(history: CustomerHistory, as_of: dt.datetime) -> float:
    since = as_of - 365 * DAY
    return sum(c for t, c, s in history.orders if since <= t < as_of and s not in ("cancelled", "returned")) / 100


def compute_segments(*, session: Session, as_of: dt.datetime, current: bool = True) -> IntelRun:
    """Assign every customer a segment, store the assignments and this run's per-segment figures.

    Reads the stored churn scores and lifetime values, so the daily refresh computes those first.
    ``current=False`` for a past ``as_of`` (usage from the snapshots, not today's table).
    """
    store = load_history(session=session)
    risks = {k: v for k, v in session.execute(select(ChurnScore.customer_id, ChurnScore.probability))}
    values = {
        cid: orders + subscription
        for cid, orders, subscription in session.execute(
            select(ClvScore.customer_id, ClvScore.order_clv_12m_cents, ClvScore.subscription_value_12m_cents)
        )
    }
    facts = {cid: facts_for(store, h, as_of, risks.get(cid), current=current) for cid, h in store.customers.items()}
    spends = sorted((f.spend_365d for f in facts.values() if f.spend_365d > 0), reverse=True)
    top = spends[max(0, int(len(spends) * TOP_SPEND_SHARE) - 1)] if spends else float("inf")
    run = IntelRun(kind="segments", as_of=as_of, rows=len(facts))
    session.add(run)
    session.flush()
    session.execute(delete(CustomerSegment))
    members: dict[str, list[str]] = defaultdict(list)
    for cid, f in facts.items():
        code, why = assign(f, top)
        members[code].append(cid)
        session.add(CustomerSegment(customer_id=cid, segment=code, run_id=run.id, why=why))
    for segment in SEGMENTS:
        ids = members.get(segment.code, [])
        session.add(_stat(run.id, segment.code, ids, store, facts, as_of, values))
    run.summary = json.dumps({code: len(ids) for code, ids in sorted(members.items())})
    session.flush()
    return run


def _stat(
    run_id: int,
    code: str,
    ids: list[str],
    store: StoreHistory,
    facts: dict[str, Facts],
    as_of: dt.datetime,
    values: dict[str, int],
) -> SegmentStat:
    csat, nps, risks, mrr, revenue = [], [], [], 0, 0
    for cid in ids:
        history = store.customers[cid]
        year = [r for r in history.ratings if as_of - 365 * DAY <= r[0] < as_of]
        csat += [r for _, k, r in year if k == "csat"]
        nps += [r for _, k, r in year if k == "nps"]
        if facts[cid].churn_risk is not None:
            risks.append(float(facts[cid].churn_risk or 0))
        sub = subscription_at(history, as_of)
        if sub is not None:
            mrr += sub.price_cents // (12 if sub.billing_period == "yearly" else 1)
        revenue += sum(
            c for t, c, s in history.orders if as_of - 90 * DAY <= t < as_of and s not in ("cancelled", "returned")
        )
    worth = [values[c] for c in ids if c in values]
    return SegmentStat(
        run_id=run_id,
        segment=code,
        customers=len(ids),
        avg_csat=sum(csat) / len(csat) if csat else None,
        nps=100 * (sum(r >= 9 for r in nps) - sum(r <= 6 for r in nps)) / len(nps) if nps else None,
        mean_churn_risk=sum(risks) / len(risks) if risks else None,
        monthly_recurring_cents=mrr,
        order_revenue_90d_cents=revenue,
        mean_clv_12m_cents=round(sum(worth) / len(worth)) if worth else None,
    )


def customers_in_segment(*, session: Session, segment: str) -> list[str]:
    """Customer ids of one segment (latest run): the campaign-target hook."""
    if segment not in SEGMENTS_BY_CODE:
        raise ValueError(f"unknown segment {segment!r}; known: {', '.join(SEGMENTS_BY_CODE)}")
    query = select(CustomerSegment.customer_id).where(CustomerSegment.segment == segment)
    return list(session.scalars(query.order_by(CustomerSegment.customer_id)))
