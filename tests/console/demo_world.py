"""The console on the demo data as ``make run`` leaves it: the 300 customers, their two years of
history, a churn model trained on the synthetic history, a few months of backfill and today's refresh.

Built once per test session (about a minute and a half here) in real SQLite files, copied per test.
Use with ``from tests.console.demo_world import demo_console, demo_template`` (pytest finds imported
fixtures).
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from supportbot.console.app import create_console_app
from supportbot.intelligence import jobs
from supportbot.intelligence.churn import MODEL_DIR_ENV, train_churn
from supportbot.intelligence.synthetic import build_synthetic_history
from supportbot.settings import Settings
from supportbot.store.db import make_engine, session_factory
from supportbot.store.demo import load_demo_data
from supportbot.store.demo_history import load_demo_history
from tests.factories import migrated_store

SYNTHETIC_CUSTOMERS = 400
BACKFILL_MONTHS = 3


@dataclass
class DemoConsole:
    settings: Settings
    sessions: sessionmaker[Session]
    app: FastAPI
    folder: Path


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory, migrated_store: Path) -> Path:
    """The prepared files: support.db (with the console's test accounts), tracker.db, models/."""
    folder = tmp_path_factory.mktemp("demo-console")
    shutil.copyfile(migrated_store, folder / "support.db")
    url, tracker_url = f"sqlite:///{folder / 'support.db'}", f"sqlite:///{folder / 'tracker.db'}"
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    engine, tracker = make_engine(url), make_engine(tracker_url)
    try:
        sessions = session_factory(engine)
        assert load_demo_data(session_factory=sessions, reference_date=now.date()) == 300
        assert load_demo_history(session_factory=sessions, tracker_engine=tracker, reference_date=now.date())
    finally:
        engine.dispose()
        tracker.dispose()
    synthetic = make_engine(migrated_store_at(folder / "synthetic.db"))
    try:
        with session_factory(synthetic).begin() as session:
            build_synthetic_history(session=session, as_of=now.date(), customers=SYNTHETIC_CUSTOMERS)
        with session_factory(synthetic).begin() as session:
            train_churn(session=session, as_of=now, model_dir=folder / "models", origin="synthetic")
    finally:
        synthetic.dispose()
    jobs.backfill(url, BACKFILL_MONTHS, str(folder / "models"), now.isoformat())
    outcome = jobs.refresh_intelligence(url, str(folder / "models"), now.isoformat())
    assert all(step.startswith("done") for step in outcome.values()), outcome
    for path in (folder / "support.db", folder / "tracker.db"):
        checkpoint(path)
    return folder


def migrated_store_at(path: Path) -> str:
    return migrated_store(path, catalogue=False)


def checkpoint(path: Path) -> None:
    """Fold the WAL into the file, so a copy of the file alone is the whole database."""
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()


@pytest.fixture
def demo_console(demo_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DemoConsole]:
    for name in ("support.db", "tracker.db"):
        shutil.copyfile(demo_template / name, tmp_path / name)
    monkeypatch.setenv(MODEL_DIR_ENV, str(demo_template / "models"))  # the churn page's model card
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=f"sqlite:///{tmp_path / 'support.db'}",
        tracker_store_url=f"sqlite:///{tmp_path / 'tracker.db'}",
        console_secret=SecretStr("s" * 40),
    )
    console_app = create_console_app(settings)
    app = FastAPI()
    app.mount("/console", console_app)
    sessions = session_factory(make_engine(settings.database_url))
    yield DemoConsole(settings, sessions, app, tmp_path)
    console_app.state.console.stores.dispose()
    sessions.kw["bind"].dispose()
