"""A deterministic, clearly synthetic subscription history to train and demonstrate the models on.

**Synthetic, not customer data.** The demo store holds 300 customers and about thirty ended
subscriptions: too few for an honest churn model (training refuses). This generator writes a
separate store (never the live one, so no invented customer is ever messaged): customers
``SYN000001``… with ``@synthetic.invalid`` addresses, two years of monthly life each — orders,
feature usage (with monthly ``usage_snapshots``), handoffs and problem reports, CSAT and NPS
ratings — and a cancellation drawn from a hazard that rises with low engagement, recent problems,
poor ratings, monthly billing and the first months of tenure. The model's job on it is to find
those signals from features as of each cut-off; metadata of a model trained here says
``origin: synthetic``.

Deterministic: one ``random.Random`` per customer seeded by the customer's number, no clock.
"""

from __future__ import annotations

import datetime as dt
import math
import random

from sqlalchemy import select
from sqlalchemy.orm import Session

from supportbot.store.demo import seed_catalogue
from supportbot.store.demo_catalogue import PLANS, PLANS_BY_CODE
from supportbot.store.feedback_models import Feedback
from supportbot.store.intelligence_models import UsageSnapshot
from supportbot.store.models import Customer, FeatureUsage, Order, Subscription, SupportInteraction

SEED = 20261201
DAY = dt.timedelta(days=1)


def build_synthetic_history(*, session: Session, as_of: dt.date, customers: int = 1500) -> int:
    """Fill an empty store with ``customers`` synthetic customers; refuses a store that has customers."""
    if session.scalar(select(Customer.id).limit(1)) is not None:
        raise ValueError("the synthetic history goes into an empty store only (this one has customers)")
    seed_catalogue(session=session)
    for number in range(1, customers + 1):
        _customer(session, random.Random(f"synthetic-{SEED}-{number}"), number, as_of)
    session.flush()
    return customers


def _customer(session: Session, rng: random.Random, number: int, as_of: dt.date) -> None:
    since = as_of - rng.randint(30, 900) * DAY
    plan = rng.choices([p.code for p in PLANS], (30, 35, 25, 10))[0]
    period = rng.choices(("monthly", "yearly"), (70, 30))[0]
    engagement = rng.gauss(0.0, 1.0)
    cid = f"SYN{number:06d}"
    customer = Customer(
        id=cid,
        first_name="Synthetic",
        last_name=f"Customer {number}",
        email=f"syn{number}@synthetic.invalid",
        customer_since=since,
        segment=rng.choices(("consumer", "small_business", "education"), (80, 12, 8))[0],
    )
    monthly = PLANS_BY_CODE[plan].monthly_price_cents
    sub = Subscription(
        plan_code=plan,
        billing_period=period,
        price_cents=monthly * (10 if period == "yearly" else 1),
        started_on=since,
        renews_on=None,
        status="active",
        auto_renew=True,
    )
    customer.subscriptions.append(sub)
    session.add(customer)
    session.flush()  # rows below refer to the customer by id, not through a relationship
    features = [f for f in PLANS_BY_CODE[plan].features if rng.random() < _sigmoid(0.5 + engagement)]
    first_used = {f: _at(since + rng.randint(0, 60) * DAY, rng) for f in features}
    last_used: dict[str, dt.datetime] = {}
    uses: dict[str, int] = {}
    day, month, problems, low_rating = since, 0, 0.0, 0.0
    while day < as_of:
        end = min(day + 30 * DAY, as_of)
        month += 1
        drift = engagement - 0.08 * month * (engagement < -0.5)  # disengaged customers fade further
        for f in features:
            if first_used[f].date() < end:
                uses[f] = _poisson(rng, math.exp(1.5 + 0.9 * drift)) if rng.random() < _sigmoid(1 + 2 * drift) else 0
                if uses[f]:
                    last_used[f] = _at(end - rng.randint(1, 29) * DAY, rng)
        for _ in range(_poisson(rng, 0.12 * math.exp(0.4 * engagement))):
            placed = _at(day + rng.randint(0, 29) * DAY, rng)
            if placed.date() < as_of:
                session.add(
                    Order(
                        customer_id=cid,
                        order_ref=f"S{number:06d}{month:03d}{rng.randint(0, 999):03d}",
                        placed_at=placed,
                        status="delivered",
                        total_cents=rng.randint(1500, 9000),
                    )
                )
        problems = 0.5 * problems
        for kind, rate in (("problem_report", 0.08 - 0.04 * drift), ("handoff", 0.06 - 0.03 * drift)):
            for _ in range(_poisson(rng, max(rate, 0.01))):
                problems += 1
                session.add(
                    SupportInteraction(
                        customer_id=cid,
                        kind=kind,
                        status="closed",
                        summary="synthetic",
                        created_at=_at(day + rng.randint(0, 29) * DAY, rng),
                    )
                )
        if rng.random() < 0.25:
            csat = max(1, min(5, round(3.6 + 0.8 * drift - 0.5 * problems + rng.gauss(0, 0.8))))
            low_rating = 1.0 if csat <= 2 else 0.5 * low_rating
            _rating(session, cid, "csat", csat, _at(day + rng.randint(0, 29) * DAY, rng))
        if rng.random() < 0.06:
            nps = max(0, min(10, round(7.5 + 1.5 * drift - problems + rng.gauss(0, 1.5))))
            _rating(session, cid, "nps", nps, _at(day + rng.randint(0, 29) * DAY, rng))
        if end < as_of:
            for f in features:
                if first_used[f].date() < end:
                    session.add(
                        UsageSnapshot(
                            customer_id=cid,
                            taken_on=end,
                            feature=f,
                            uses_last_30d=uses.get(f, 0),
                            last_used_at=last_used.get(f),
                        )
                    )
        hazard = _sigmoid(
            -3.6
            - 0.9 * drift
            + 0.5 * problems
            + 1.0 * low_rating
            + (0.6 if period == "monthly" else -0.6)
            + (0.8 if month <= 3 else 0.0)
        )
        if rng.random() < hazard and end < as_of:
            sub.status, sub.auto_renew = "cancelled", False
            sub.cancelled_at = _at(end - rng.randint(0, 20) * DAY, rng)
            sub.cancel_reason = "synthetic"
            break
        day = end
    if sub.status != "cancelled":
        sub.renews_on = as_of + rng.randint(1, 30) * DAY
    for f in features:
        customer.usage.append(
            FeatureUsage(
                feature=f, uses_last_30d=uses.get(f, 0), first_used_at=first_used[f], last_used_at=last_used.get(f)
            )
        )


def _rating(session: Session, cid: str, kind: str, rating: int, at: dt.datetime) -> None:
    session.add(
        Feedback(
            customer_id=cid,
            conversation_id=f"synthetic:{cid}",
            channel="synthetic",
            kind=kind,
            rating=rating,
            prompted_by="resolution",
            created_at=at,
        )
    )


def _at(day: dt.date, rng: random.Random) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(rng.randint(8, 20), rng.randint(0, 59)), tzinfo=dt.UTC)


def _sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


def _poisson(rng: random.Random, lam: float) -> int:
    """Knuth's method; fine for the small rates used here."""
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1
