"""Lifetime value of every customer from the store's order history and churn scores.

Orders: BG/NBD (repeat purchases) and Gamma-Gamma (value of a purchase) fitted on every
customer's orders before ``as_of`` (``clv_model``; weeks as the time unit, purchases on one day
are one purchase, cancelled and returned orders left out), giving the probability a customer is
still buying, the expected orders in 12 months and their discounted value.
Subscription: the monthly price times the months the subscription is expected to last over the
next 12, from the stored 90-day churn risk (monthly survival ``(1 − risk)^(1/3)``); a customer
without a score keeps the price for 12 months.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from supportbot.errors import InvalidRequestError
from supportbot.intelligence.clv_model import RFM, fit_bgnbd, fit_gamma_gamma, lifetime_value
from supportbot.store.intelligence_models import ChurnScore, ClvScore, IntelRun
from supportbot.store.models import Order, Subscription

MIN_BUYERS = 50
MIN_REPEATERS = 10
MONTHS = 12
MONTHLY_DISCOUNT = 0.01


def order_rfm(*, session: Session, as_of: dt.datetime) -> tuple[list[str], RFM, np.ndarray]:
    """(customer ids, their calibration summary in weeks, mean value of their repeat orders in cents)."""
    days: dict[str, dict[dt.date, int]] = defaultdict(lambda: defaultdict(int))
    query = select(Order.customer_id, Order.placed_at, Order.total_cents).where(
        Order.placed_at < as_of, Order.status.not_in(("cancelled", "returned"))
    )
    for cid, placed, cents in session.execute(query):
        days[cid][placed.date()] += cents
    ids = sorted(days)
    x, tx, age, spend = (np.zeros(len(ids)) for _ in range(4))
    for i, cid in enumerate(ids):
        dates = sorted(days[cid])
        x[i] = len(dates) - 1
        tx[i] = (dates[-1] - dates[0]).days / 7
        age[i] = max((as_of.date() - dates[0]).days / 7, tx[i])
        spend[i] = sum(days[cid][d] for d in dates[1:]) / x[i] if x[i] else 0.0
    return ids, RFM(x, tx, age), spend


def compute_clv(*, session: Session, as_of: dt.datetime) -> IntelRun:
    """Fit the order models, score every customer with orders or a subscription; replaces ``clv_scores``."""
    ids, rfm, spend = order_rfm(session=session, as_of=as_of)
    repeaters = int((rfm.frequency > 0).sum())
    if len(ids) < MIN_BUYERS or repeaters < MIN_REPEATERS:
        raise InvalidRequestError(
            f"not enough order history for lifetime value: {len(ids)} customers with orders, {repeaters} with a "
            f"repeat order; at least {MIN_BUYERS} and {MIN_REPEATERS} are needed"
        )
    purchases = fit_bgnbd(rfm)
    value = fit_gamma_gamma(rfm.frequency, spend)
    alive = purchases.probability_alive(rfm)
    expected = purchases.expected_purchases(rfm, MONTHS * 52 / 12)
    per_order = value.expected_spend(rfm.frequency, spend)
    clv = lifetime_value(purchases, value, rfm, spend, months=MONTHS, monthly_discount=MONTHLY_DISCOUNT)
    if not all(np.isfinite(arr).all() for arr in (alive, expected, per_order, clv)):
        raise InvalidRequestError(
            f"the order models do not fit this history ({len(ids)} customers with orders, {repeaters} with a repeat "
            f"order; BG/NBD r {purchases.r:.3g}, alpha {purchases.alpha:.3g}, a {purchases.a:.3g}, "
            f"b {purchases.b:.3g}): lifetime values would not be numbers, so none were stored"
        )
    subscription = _subscription_value(session, as_of)
    run = IntelRun(kind="clv", as_of=as_of, model_version="bgnbd+gamma-gamma")
    session.add(run)
    session.flush()
    session.execute(delete(ClvScore))
    by_id = {cid: i for i, cid in enumerate(ids)}
    for cid in sorted(set(ids) | set(subscription)):
        i = by_id.get(cid)
        session.add(
            ClvScore(
                customer_id=cid,
                run_id=run.id,
                probability_alive=float(alive[i]) if i is not None else 0.0,
                expected_orders_12m=float(expected[i]) if i is not None else 0.0,
                expected_order_value_cents=round(float(per_order[i])) if i is not None else 0,
                order_clv_12m_cents=round(float(clv[i])) if i is not None else 0,
                subscription_value_12m_cents=round(subscription.get(cid, 0.0)),
                computed_at=as_of,
            )
        )
    run.rows = len(set(ids) | set(subscription))
    run.summary = json.dumps(
        {
            "bgnbd": {"r": purchases.r, "alpha": purchases.alpha, "a": purchases.a, "b": purchases.b},
            "gamma_gamma": {"p": value.p, "q": value.q, "gamma": value.gamma},
            "buyers": len(ids),
            "repeaters": repeaters,
        }
    )
    session.flush()
    return run


def _subscription_value(session: Session, as_of: dt.datetime) -> dict[str, float]:
    risks = {k: v for k, v in session.execute(select(ChurnScore.customer_id, ChurnScore.probability))}
    out: dict[str, float] = {}
    query = select(Subscription).where(Subscription.started_on <= as_of.date())
    for sub in session.scalars(query):
        ended = sub.cancelled_at is not None and sub.cancelled_at <= as_of
        if ended or (sub.status == "cancelled" and sub.cancelled_at is None):
            continue  # running at ``as_of``: not yet cancelled then (a past as_of counts it, ``backfill``)
        monthly = sub.price_cents / (12 if sub.billing_period == "yearly" else 1)
        survive = (1 - min(max(risks.get(sub.customer_id, 0.0), 0.0), 0.999)) ** (1 / 3)
        months = sum(survive**m / (1 + MONTHLY_DISCOUNT) ** m for m in range(1, MONTHS + 1))
        out[sub.customer_id] = out.get(sub.customer_id, 0.0) + monthly * months
    return out
