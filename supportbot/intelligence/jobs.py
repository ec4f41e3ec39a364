"""Entry points for the scheduler: module-level functions that take a database URL, not objects.

APScheduler pickles a job's function and arguments into its job store, so these take strings
and open their own engine (style rule 9). Each step runs in its own transaction: a step that
cannot run (no churn model yet, too little order history) is reported and the others still run.

- ``refresh_intelligence`` (daily): usage snapshot → churn scores (if a model exists) →
  lifetime value → segments → next best actions. Order matters: lifetime value reads the churn
  scores for the subscription part, segments read both (at-risk rule, value per segment), next
  best actions read the churn scores.
- ``backfill`` (by command, once): the same figures as of past month ends, so the console has a
  trend from the first day (no usage snapshot and no decisions: those are about now).
- ``retrain_churn`` (weekly): train a new churn model version on the store's history; a store
  with too little history leaves the previous model in place.
"""

from __future__ import annotations

import datetime as dt
import functools
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
            "clv": _step(factory, "clv", lambda s: _run_summary(compute_clv(session=s, as_of=as_of))),
            "segments": _step(factory, "segments", lambda s: _run_summary(compute_segments(session=s, as_of=as_of))),
            "next_best_actions": _step(
                factory, "next_best_actions", lambda s: _run_summary(decide_all(session=s, now=as_of))
            ),
        }
    finally:
        engine.dispose()


def month_ends(as_of: dt.datetime, months: int) -> list[dt.datetime]:
    """Midnight UTC at the start of each of the last ``months`` months that began before ``as_of``, oldest first."""
    ends = []
    day = as_of.astimezone(dt.UTC).date()
    first = day.replace(day=1)
    if first >= day:  # as_of is the first of a month: that month's start is as_of itself, not the past
        first = (first - dt.timedelta(days=1)).replace(day=1)
    for _ in range(months):
        ends.append(dt.datetime.combine(first, dt.time(), dt.UTC))
        first = (first - dt.timedelta(days=1)).replace(day=1)
    return list(reversed(ends))


def backfill(database_url: str, months: int, model_dir: str | None = None, now: str | None = None) -> dict[str, str]:
    """Churn scores, lifetime value and segments as of each of the past ``months`` month ends, oldest first.

    Each is what the daily refresh would have stored then, from the history before that day (usage
    from the snapshots, the current churn model: a backfilled risk is today's model on the data of
    then). The current figures are left to ``refresh_intelligence``, which runs after this.
    """
    as_of = dt.datetime.fromisoformat(now) if now else dt.datetime.now(dt.UTC)
    folder = Path(model_dir) if model_dir else default_model_dir()
    engine = make_engine(database_url)
    outcomes = {}
    try:
        factory = session_factory(engine)
        for moment in month_ends(as_of, months):
            steps = [
                _step(factory, name, functools.partial(work, moment=moment))
                for name, work in (
                    ("churn_scores", _past_scores(folder)),
                    ("clv", _past_clv),
                    ("segments", _past_segments),
                )
            ]
            outcomes[moment.date().isoformat()] = "; ".join(steps)
    finally:
        engine.dispose()
    return outcomes


def _past_scores(folder: Path) -> Callable[..., object]:
    def work(session: Session, *, moment: dt.datetime) -> object:
        return score_customers(session=session, as_of=moment, model_dir=folder, current=False)

    return work


def _past_clv(session: Session, *, moment: dt.datetime) -> object:
    return _run_summary(compute_clv(session=session, as_of=moment))


def _past_segments(session: Session, *, moment: dt.datetime) -> object:
    return _run_summary(compute_segments(session=session, as_of=moment, current=False))


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
