"""Fixtures for feedback tests: a real, migrated store per test, on SQLite and on PostgreSQL.

Each test gets a copy of one migrated file or template (tests/factories.py): its own real database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from supportbot.store.db import make_engine, session_factory
from tests.factories import add_customer


class BracketRedactor:
    """Stands in for the spaCy redactor where redaction is not under test: marks the text."""

    def redact(self, text: str) -> str:
        return f"<{text}>"

    def redact_many(self, texts: Iterable[str]) -> list[str]:
        return [self.redact(t) for t in texts]


@pytest.fixture
def sessions(new_store: Callable[..., str]) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(new_store())
    factory = session_factory(engine)
    with factory.begin() as session:
        add_customer(session, "C1")
        add_customer(session, "C2")
    yield factory
    engine.dispose()


@pytest.fixture
def redactor() -> BracketRedactor:
    return BracketRedactor()
