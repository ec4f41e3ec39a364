"""Fixtures for feedback tests: a real, migrated SQLite file per test.

Each test gets a copy of one migrated file (tests/factories.py): its own real database.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from supportbot.store.db import make_engine, session_factory
from tests.factories import add_customer, migrated_store


class BracketRedactor:
    """Stands in for the spaCy redactor where redaction is not under test: marks the text."""

    def redact(self, text: str) -> str:
        return f"<{text}>"

    def redact_many(self, texts: Iterable[str]) -> list[str]:
        return [self.redact(t) for t in texts]


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(migrated_store(tmp_path / "support.db"))
    factory = session_factory(engine)
    with factory.begin() as session:
        add_customer(session, "C1")
        add_customer(session, "C2")
    yield factory
    engine.dispose()


@pytest.fixture
def redactor() -> BracketRedactor:
    return BracketRedactor()
