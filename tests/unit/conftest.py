"""Fixtures for unit tests: a real, migrated store per test, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from supportbot.store.db import make_engine, session_factory
from supportbot.store.demo import seed_catalogue


@pytest.fixture
def database_url(new_store: Callable[..., str]) -> str:
    """A fresh database migrated to head (through Alembic, as in production; a copy of one
    migrated SQLite file or PostgreSQL template, tests/factories.py), once per backend."""
    return new_store(catalogue=False)


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
