"""Fixtures for the intelligence tests: real migrated SQLite files, and one synthetic history built once."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from supportbot.intelligence.synthetic import build_synthetic_history
from supportbot.store.db import make_engine, session_factory
from tests.factories import migrated_store

AS_OF = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    """A migrated store with the plan catalogue, empty otherwise."""
    engine = make_engine(migrated_store(tmp_path / "store.db"))
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture(scope="session")
def synthetic_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic history of 400 customers (about 20 s to build), built once and copied per test."""
    path = tmp_path_factory.mktemp("synthetic") / "synthetic.db"
    engine = make_engine(migrated_store(path, catalogue=False))
    with session_factory(engine).begin() as session:
        build_synthetic_history(session=session, as_of=AS_OF.date(), customers=400)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture
def synthetic_url(synthetic_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "synthetic.db"
    shutil.copyfile(synthetic_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def synthetic(synthetic_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(synthetic_url)
    yield session_factory(engine)
    engine.dispose()
