"""Entry points for the scheduler: module-level functions that take a database URL, not objects.

APScheduler pickles a job's function and arguments into its job store, so these take strings
and open their own engine (style rule 9). Each step runs in its own transaction: a step that
cannot run (no churn model yet, too little order history) is reported and the others still run.

- ``refresh_intelligence`` (daily): usage snapshot → churn scores (if a model exists) →
  segments → lifetime value → next best actions. Order matters: segments and next best actions
  read the churn scores, lifetime value reads them for the subscription part.
- ``retrain_churn`` (weekly): train a new churn model version on the store's history; a store
  with too little history leaves the previous model in place.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from supportbot.errors import InvalidRequestError, NotFoundError
from supportbot.intelligence.churn import default_model_dir, score_customers, train_churn
from supportbot.intelligence.clv import compute_clv
from supportbot.intelligence.next_action import decide_all
from supportbot.intelligence.segments import compute_segments
from supportbot.store.db import make_engine, session_factory
from supportbot.store.intelligence_models import IntelRun, UsageSnapshot
from supportbot.store.models import FeatureUsage

log = logging.getLogger(__name__)


def take_usage_snapshot(*, session: Session, as_of: dt.datetime) -> int:
    """Copy ``feature_usage`` into ``usage_snapshots`` for ``as_of``'s day (once per day)."""
    day = as_of.date()
    if session.scalar(select(UsageSnapshot.id).where(UsageSnapshot.taken_on == day).limit(1)) is not None:
        return 0
    rows = list(session.scalars(select(FeatureUsage)))
    for u in rows:
        session.add(
            UsageSnapshot(
                customer_id=u.customer_id,
                taken_on=day,
                feature=u.feature,
                uses_last_30d=u.uses_last_30d,
                last_used_at=u.last_used_at,
            )
        )
    session.add(IntelRun(kind="usage_snapshot", as_of=as_of, rows=len(rows)))
    session.flush()
    return len(rows)


def _step(factory: sessionmaker[Session], name: str, work: Callable[[Session], object]) -> str:
    try:
        with factory.begin() as session:
            result = work(session)
    except (InvalidRequestError, NotFoundError) as error:
        log.warning("intelligence step %s skipped: %s", name, error)
        return f"skipped: {error}"
    return f"done: {result}"


def refresh_intelligence(database_url: str, model_dir: str | None = None, now: str | None = None) -> dict[str, str]:
    """Every daily step; returns each step's outcome in words (also logged)."""
    as_of = dt.datetime.fromisoformat(now) if now else dt.datetime.now(dt.UTC)
    folder = Path(model_dir) if model_dir else default_model_dir()
    engine = make_engine(database_url)
    try:
        factory = session_factory(engine)
        return {
            "usage_snapshot": _step(factory, "usage_snapshot", lambda s: take_usage_snapshot(session=s, as_of=as_of)),
            "churn_scores": _step(
                factory, "churn_scores", lambda s: score_customers(session=s, as_of=as_of, model_dir=folder)
            ),
            "segments": _step(factory, "segments", lambda s: _run_summary(compute_segments(session=s, as_of=as_of))),
            "clv": _step(factory, "clv", lambda s: _run_summary(compute_clv(session=s, as_of=as_of))),
            "next_best_actions": _step(
                factory, "next_best_actions", lambda s: _run_summary(decide_all(session=s, now=as_of))
            ),
        }
    finally:
        engine.dispose()


def recompute_segments(database_url: str, now: str | None = None) -> str:
    as_of = dt.datetime.fromisoformat(now) if now else dt.datetime.now(dt.UTC)
    engine = make_engine(database_url)
    try:
        return _step(
            session_factory(engine), "segments", lambda s: _run_summary(compute_segments(session=s, as_of=as_of))
        )
    finally:
        engine.dispose()


def retrain_churn(database_url: str, model_dir: str | None = None, now: str | None = None) -> str:
    as_of = dt.datetime.fromisoformat(now) if now else dt.datetime.now(dt.UTC)
    folder = Path(model_dir) if model_dir else default_model_dir()
    engine = make_engine(database_url)
    try:
        return _step(
            session_factory(engine),
            "retrain_churn",
            lambda s: train_churn(session=s, as_of=as_of, model_dir=folder).version,
        )
    finally:
        engine.dispose()


def _run_summary(run: IntelRun) -> str:
    return f"run {run.id}, {run.rows} rows {run.summary}"
