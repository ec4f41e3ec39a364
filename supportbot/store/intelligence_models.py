"""Customer intelligence tables: segments, churn scores, lifetime value, next best actions (app environment).

Why these shapes
- ``intel_runs``: one row per batch computation (segments, churn training, churn scoring, CLV,
  next best actions, usage snapshot), with the date it was computed *as of*, the model version and a
  JSON summary (metrics, counts). The console shows "computed at" from here, and a scheduler job
  can tell whether a run is due.
- Current results are one row per customer (``customer_segments``, ``churn_scores``,
  ``clv_scores``), replaced by each run: readers never have to pick "the latest" out of a history.
  History that the console charts lives in ``segment_stats`` (one row per run and segment: size,
  CSAT, NPS, churn risk, revenue), so a trend survives every recomputation.
- ``next_best_actions`` is a log, never updated: every decision with its rule and reason, so an
  agent or an auditor can see why a customer was (or was not) offered something on a given day.
- ``usage_snapshots`` keeps what ``feature_usage`` said on a day. ``feature_usage`` holds only
  the current state (uses in the last 30 days, last use), which would leak the future into a
  model trained at a past cut-off; snapshots give later training the usage *as it was*.
- Deleting a customer deletes all of their rows here (``ON DELETE CASCADE``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from supportbot.store.models import Base, UTCDateTime, utcnow

RUN_KINDS = ("segments", "churn_train", "churn_score", "clv", "next_best_action", "usage_snapshot")
ACTIONS = ("retention_offer", "usage_tip", "referral_invitation", "loyalty_perk", "none")
"""What the next-best-action rules can decide; ``none`` is a decision too (logged with its reason)."""


class IntelRun(Base):
    __tablename__ = "intel_runs"
    __table_args__ = (Index("ix_intel_runs_kind_started", "kind", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    as_of: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    """The moment the figures describe (features are computed from data before it)."""
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    model_version: Mapped[str | None] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(Integer, default=0)
    summary: Mapped[str] = mapped_column(Text, default="{}")
    """JSON: metrics of a training run, counts per segment or action, the training data's origin."""


class CustomerSegment(Base):
    """The segment a customer is in now, from the latest segments run."""

    __tablename__ = "customer_segments"

    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    segment: Mapped[str] = mapped_column(String(32), index=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("intel_runs.id", ondelete="CASCADE"), index=True)
    why: Mapped[str] = mapped_column(Text, default="")
    """The rule's reason in words, for this customer (e.g. "no feature used for 45 days")."""


class SegmentStat(Base):
    """One segment's figures at one run; the series of runs is the segment's trend."""

    __tablename__ = "segment_stats"

    run_id: Mapped[int] = mapped_column(ForeignKey("intel_runs.id", ondelete="CASCADE"), primary_key=True)
    segment: Mapped[str] = mapped_column(String(32), primary_key=True)
    customers: Mapped[int] = mapped_column(Integer)
    avg_csat: Mapped[float | None] = mapped_column(Float)
    nps: Mapped[float | None] = mapped_column(Float)
    """% promoters − % detractors among the segment's NPS answers of the last 365 days."""
    mean_churn_risk: Mapped[float | None] = mapped_column(Float)
    monthly_recurring_cents: Mapped[int] = mapped_column(Integer, default=0)
    order_revenue_90d_cents: Mapped[int] = mapped_column(Integer, default=0)
    mean_clv_12m_cents: Mapped[int | None] = mapped_column(Integer)
    """Mean 12-month lifetime value (orders + subscription, ``clv_scores``) of the segment's customers
    at this run; None where the lifetime value was not computed (migration ``0015``)."""


class ChurnScore(Base):
    __tablename__ = "churn_scores"

    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("intel_runs.id", ondelete="CASCADE"), index=True)
    model_version: Mapped[str] = mapped_column(String(64))
    probability: Mapped[float] = mapped_column(Float, index=True)
    """Calibrated probability that the subscription ends within the model's horizon."""
    reasons: Mapped[str] = mapped_column(Text, default="[]")
    """JSON list of {feature, value, contribution, text}, strongest first."""
    scored_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ClvScore(Base):
    __tablename__ = "clv_scores"

    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("intel_runs.id", ondelete="CASCADE"), index=True)
    probability_alive: Mapped[float] = mapped_column(Float)
    expected_orders_12m: Mapped[float] = mapped_column(Float)
    expected_order_value_cents: Mapped[int] = mapped_column(Integer)
    order_clv_12m_cents: Mapped[int] = mapped_column(Integer)
    """Discounted expected order revenue over 12 months (BG/NBD × Gamma-Gamma)."""
    subscription_value_12m_cents: Mapped[int] = mapped_column(Integer, default=0)
    """Expected subscription revenue over 12 months: monthly price × months kept (from churn risk)."""
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    computed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class NextBestAction(Base):
    """A logged decision: the one thing to do next for a customer, and why. Never updated."""

    __tablename__ = "next_best_actions"
    __table_args__ = (Index("ix_next_best_actions_customer_decided", "customer_id", "decided_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("intel_runs.id", ondelete="SET NULL"), index=True)
    decided_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    action: Mapped[str] = mapped_column(String(32), index=True)
    rule: Mapped[str] = mapped_column(String(48))
    """The rule that decided (``retention_offer``, ``contact_cap``, ``no_consent``, ...)."""
    reason: Mapped[str] = mapped_column(Text)
    campaign: Mapped[str | None] = mapped_column(String(32))
    """The outreach campaign that would carry it out (None for ``none``)."""
    details: Mapped[str] = mapped_column(Text, default="{}")


class UsageSnapshot(Base):
    """``feature_usage`` as it was on ``taken_on``: usage as of a past cut-off, without leakage."""

    __tablename__ = "usage_snapshots"
    __table_args__ = (Index("ix_usage_snapshots_customer_taken", "customer_id", "taken_on"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    taken_on: Mapped[dt.date] = mapped_column(Date)
    feature: Mapped[str] = mapped_column(String(64))
    uses_last_30d: Mapped[int] = mapped_column(Integer, default=0)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
