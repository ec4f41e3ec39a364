"""Customer intelligence for the demo store at ``make run``: a model to score with, a year of trend, today's figures.

The demo's 300 customers have too few ended subscriptions to learn churn from (training refuses,
as it should), so the demo is scored by a model trained on the **synthetic** history
(``synthetic``: invented customers in a separate store, never the live one); the model's metadata
says ``origin: synthetic`` and the console's churn page says so. Then ``jobs.backfill`` computes
scores, lifetime value and segments as of each of the past twelve month ends from the demo's
history (usage from its snapshots), so the console shows a trend on the first run, and
``jobs.refresh_intelligence`` computes today's, next best actions included.

Only for a store that carries the demo mark (``demo_datasets``), and only once: a store with a
segments run already is left alone (the scheduler keeps it fresh from then on).
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from sqlalchemy import select

from supportbot.errors import NotFoundError
from supportbot.intelligence import jobs
from supportbot.intelligence.churn import load_model, train_churn
from supportbot.intelligence.synthetic import build_synthetic_history
from supportbot.store.db import make_engine, session_factory
from supportbot.store.demo_models import DemoDataset
from supportbot.store.intelligence_models import IntelRun
from supportbot.store.migrate import upgrade_database

log = logging.getLogger(__name__)
BACKFILL_MONTHS = 12


def prepare_demo(
    *, database_url: str, model_dir: Path, synthetic_path: Path, now: dt.datetime, customers: int = 1500
) -> list[str]:
    """What was done, in words (nothing for a store that is not the demo or is already prepared)."""
    engine = make_engine(database_url)
    try:
        with session_factory(engine)() as session:
            if session.get(DemoDataset, "customers") is None:
                return ["not the demo store: nothing to prepare"]
            if session.scalar(select(IntelRun.id).where(IntelRun.kind == "segments").limit(1)) is not None:
                return ["customer intelligence already computed: the scheduler keeps it fresh"]
    finally:
        engine.dispose()
    done = [_model(model_dir, synthetic_path, now, customers)]
    for day, outcome in jobs.backfill(database_url, BACKFILL_MONTHS, str(model_dir), now.isoformat()).items():
        done.append(f"as of {day}: {outcome}")
    for step, outcome in jobs.refresh_intelligence(database_url, str(model_dir), now.isoformat()).items():
        done.append(f"today, {step}: {outcome}")
    return done


def _model(model_dir: Path, synthetic_path: Path, now: dt.datetime, customers: int) -> str:
    """The newest churn model, or one trained on the synthetic history when there is none."""
    try:
        _, metadata = load_model(model_dir)
        return f"churn model {metadata['version']} ({metadata.get('origin')} history) in place"
    except NotFoundError:
        pass
    url = f"sqlite:///{synthetic_path}"
    if not synthetic_path.exists():
        upgrade_database(url=url)
        engine = make_engine(url)
        try:
            with session_factory(engine).begin() as session:
                build_synthetic_history(session=session, as_of=now.date(), customers=customers)
        finally:
            engine.dispose()
    engine = make_engine(url)
    try:
        with session_factory(engine).begin() as session:
            report = train_churn(session=session, as_of=now, model_dir=model_dir, origin="synthetic")
    finally:
        engine.dispose()
    backtest = report.metadata.get("backtest") or {}
    auc = f", backtest AUC {backtest['auc']:.3f}" if backtest else ""
    return f"churn model {report.version} trained on {customers} synthetic customers{auc}"
