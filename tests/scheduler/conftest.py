"""Fixtures for outreach tests: a migrated store with the plan catalogue, per test, on SQLite
and on PostgreSQL (a copy of one migrated file or template, tests/factories.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from supportbot.store.db import make_engine, session_factory


@pytest.fixture
def db_url(new_store: Callable[..., str]) -> str:
    return new_store()


@pytest.fixture
def store(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(db_url)
    yield session_factory(engine)
    engine.dispose()
