"""Fixtures for unit tests: a real, migrated SQLite file per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from supportbot.store.db import make_engine, session_factory
from supportbot.store.demo import seed_catalogue
from tests.factories import migrated_store


@pytest.fixture
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A fresh SQLite database migrated to head (through Alembic, as in production; a copy of
    one migrated file, tests/factories.py)."""
    return migrated_store(tmp_path_factory.mktemp("db") / "support.db", catalogue=False)


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture
def catalogue(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """``sessions`` on a database whose plan and reward catalogue is seeded."""
    with sessions.begin() as session:
        seed_catalogue(session=session)
    return sessions
