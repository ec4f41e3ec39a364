"""Churn features and labels of one customer as of a cut-off, from ``history`` records only.

The one rule: a feature at cut-off ``c`` reads only what happened before ``c`` (orders placed,
tickets opened, ratings given, features first used, usage snapshots taken before it), and the
label reads only the window after it. Tests in tests/intelligence/test_features.py change the
future and check that no feature moves.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
from dataclasses import dataclass

from supportbot.intelligence.churn_model import FeatureSpec, FeatureValue
from supportbot.intelligence.history import CustomerHistory, StoreHistory, SubscriptionRecord, UsageRecord

DAY = dt.timedelta(days=1)
SNAPSHOT_MAX_AGE_DAYS = 45
"""A usage snapshot older than this at the cut-off says nothing about usage then."""
MAX_GAP_DAYS = 730.0
"""Recency features are capped here (and used when there was never an order / a use)."""

SPEC = FeatureSpec(
    numeric=(
        "tenure_days",
        "monthly_price",
        "days_to_renewal",
        "orders_90d",
        "orders_365d",
        "spend_365d",
        "days_since_order",
        "returns_365d",
        "handoffs_90d",
        "problem_reports_90d",
        "retention_offers_365d",
        "plan_changes_365d",
        "ratings_365d",
        "features_adopted",
        "plan_feature_share",
        "uses_30d",
        "active_features_30d",
        "days_since_use",
    ),
    categorical=("plan", "billing_period", "segment", "csat_last", "nps_last", "usage_known"),
)


@dataclass(frozen=True)
class Example:
    customer_id: str
    cutoff: dt.datetime
    features: dict[str, FeatureValue]
    label: int | None
    """1 churned in the window, 0 still subscribed at its end, None not known yet."""


def subscription_at(history: CustomerHistory, at: dt.datetime) -> SubscriptionRecord | None:
    """The latest-started subscription running at ``at``: started on or before, not cancelled by then."""
    running = [
        s
        for s in history.subscriptions
        if s.started_on <= at.date() and (s.cancelled_at is None or s.cancelled_at > at)
    ]
    return running[-1] if running else None


def label_for(history: CustomerHistory, cutoff: dt.datetime, horizon_days: int, as_of: dt.datetime) -> int | None:
    """Did the subscription running at ``cutoff`` end within ``horizon_days``? None if unknown yet."""
    sub = subscription_at(history, cutoff)
    if sub is None:
        return None
    end = cutoff + horizon_days * DAY
    if sub.cancelled_at is not None and sub.cancelled_at <= min(end, as_of):
        return 1
    return 0 if end <= as_of else None


def features_at(
    store: StoreHistory, history: CustomerHistory, cutoff: dt.datetime, *, current: bool = False
) -> dict[str, FeatureValue] | None:
    """The features of a subscriber at ``cutoff`` (None if not subscribed then).

    ``current=True`` (scoring now) reads the live usage table instead of a snapshot.
    """
    sub = subscription_at(history, cutoff)
    if sub is None or history.customer_since > cutoff.date():
        return None
    since = cutoff - 365 * DAY
    recent = cutoff - 90 * DAY
    orders = [o for o in history.orders if o[0] < cutoff]
    kept = [o for o in orders if o[2] not in ("cancelled", "returned")]
    interactions = [i for i in history.interactions if i[0] < cutoff]
    ratings = [r for r in history.ratings if r[0] < cutoff]
    plan_features = store.plan_features.get(sub.plan_code, frozenset())
    adopted = [f for f, at in history.first_used.items() if at < cutoff]
    usage = history.current_usage if current else _snapshot(history, cutoff)
    features: dict[str, FeatureValue] = {
        "tenure_days": float((cutoff.date() - history.customer_since).days),
        "monthly_price": sub.price_cents / 100 / (12 if sub.billing_period == "yearly" else 1),
        "days_to_renewal": float(_days_to_renewal(sub, cutoff.date())),
        "orders_90d": float(sum(o[0] >= recent for o in kept)),
        "orders_365d": float(sum(o[0] >= since for o in kept)),
        "spend_365d": sum(o[1] for o in kept if o[0] >= since) / 100,
        "days_since_order": _days_since([o[0] for o in kept], cutoff),
        "returns_365d": float(sum(o[0] >= since and o[2] == "returned" for o in orders)),
        "handoffs_90d": float(sum(t >= recent and k == "handoff" for t, k in interactions)),
        "problem_reports_90d": float(sum(t >= recent and k == "problem_report" for t, k in interactions)),
        "retention_offers_365d": float(sum(t >= since and k == "retention_offer" for t, k in interactions)),
        "plan_changes_365d": float(sum(t >= since and k == "plan_change" for t, k in interactions)),
        "ratings_365d": float(sum(t >= since for t, _, _ in ratings)),
        "features_adopted": float(len(adopted)),
        "plan_feature_share": len(plan_features & set(adopted)) / len(plan_features) if plan_features else 0.0,
        "plan": sub.plan_code,
        "billing_period": sub.billing_period,
        "segment": history.segment,
        "csat_last": _csat_band([r for t, k, r in ratings if k == "csat" and t >= since]),
        "nps_last": _nps_band([r for t, k, r in ratings if k == "nps" and t >= since]),
    }
    features.update(_usage_features(usage, cutoff))
    return features


def _snapshot(history: CustomerHistory, cutoff: dt.datetime) -> list[UsageRecord] | None:
    """The newest snapshot taken before the cut-off's day, if recent enough; None when there is none."""
    days = [d for d in history.snapshots if d < cutoff.date() and (cutoff.date() - d).days <= SNAPSHOT_MAX_AGE_DAYS]
    return history.snapshots[max(days)] if days else None


def _usage_features(usage: list[UsageRecord] | None, cutoff: dt.datetime) -> dict[str, FeatureValue]:
    if usage is None:
        return {"uses_30d": 0.0, "active_features_30d": 0.0, "days_since_use": MAX_GAP_DAYS, "usage_known": "no"}
    last = [u.last_used_at for u in usage if u.last_used_at is not None and u.last_used_at < cutoff]
    return {
        "uses_30d": float(sum(u.uses_last_30d for u in usage)),
        "active_features_30d": float(sum(u.uses_last_30d > 0 for u in usage)),
        "days_since_use": _days_since(last, cutoff),
        "usage_known": "yes",
    }


def _days_since(times: list[dt.datetime], cutoff: dt.datetime) -> float:
    if not times:
        return MAX_GAP_DAYS
    return min(MAX_GAP_DAYS, (cutoff - max(times)).total_seconds() / 86400)


def _days_to_renewal(sub: SubscriptionRecord, day: dt.date) -> int:
    """Days to the next billing boundary after ``day``, counted from the start date (a fixed schedule)."""
    step = 12 if sub.billing_period == "yearly" else 1
    months = (day.year - sub.started_on.year) * 12 + day.month - sub.started_on.month
    n = max(1, math.floor(months / step))
    while _add_months(sub.started_on, n * step) <= day:
        n += 1
    return (_add_months(sub.started_on, n * step) - day).days


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _csat_band(ratings: list[int]) -> str:
    if not ratings:
        return "none"
    last = ratings[-1]
    return "low (1-2)" if last <= 2 else "neutral (3)" if last == 3 else "high (4-5)"


def _nps_band(ratings: list[int]) -> str:
    if not ratings:
        return "none"
    last = ratings[-1]
    return "detractor" if last <= 6 else "passive" if last <= 8 else "promoter"


def training_examples(
    store: StoreHistory, *, as_of: dt.datetime, horizon_days: int, cutoffs: list[dt.datetime]
) -> list[Example]:
    """Labelled examples of every subscriber at every cut-off (unknown labels are left out)."""
    examples = []
    for cutoff in cutoffs:
        for history in store.customers.values():
            label = label_for(history, cutoff, horizon_days, as_of)
            if label is None:
                continue
            features = features_at(store, history, cutoff)
            if features is not None:
                examples.append(Example(history.customer_id, cutoff, features, label))
    return examples


def monthly_cutoffs(*, as_of: dt.datetime, horizon_days: int, count: int, step_days: int = 30) -> list[dt.datetime]:
    """``count`` cut-offs ``step_days`` apart, the newest ``horizon_days`` before ``as_of`` (its label is known)."""
    newest = (as_of - horizon_days * DAY).replace(hour=0, minute=0, second=0, microsecond=0)
    return sorted(newest - k * step_days * DAY for k in range(count))
