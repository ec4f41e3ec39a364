"""Fixtures for outreach tests: a migrated SQLite file with the plan catalogue, per test
(a copy of one migrated file, tests/factories.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from supportbot.store.db import make_engine, session_factory
from tests.factories import migrated_store


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return migrated_store(tmp_path / "profile.db")


@pytest.fixture
def store(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(db_url)
    yield session_factory(engine)
    engine.dispose()
