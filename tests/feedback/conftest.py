"""Fixtures for feedback tests: a real, migrated SQLite file per test.

Migrating takes seconds on the shared machine, so the file is migrated once per session
and copied for each test: every test still gets its own real database.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from supportbot.store.db import make_engine, session_factory
from supportbot.store.demo import seed_catalogue
from supportbot.store.migrate import upgrade_database
from tests.factories import add_customer


class BracketRedactor:
    """Stands in for the spaCy redactor where redaction is not under test: marks the text."""

    def redact(self, text: str) -> str:
        return f"<{text}>"

    def redact_many(self, texts: Iterable[str]) -> list[str]:
        return [self.redact(t) for t in texts]


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "support.db"
    upgrade_database(url=f"sqlite:///{path}")
    engine = make_engine(f"sqlite:///{path}")
    with session_factory(engine).begin() as session:
        seed_catalogue(session=session)
    engine.dispose()
    return path


@pytest.fixture
def sessions(migrated_template: Path, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    path = tmp_path / "support.db"
    shutil.copy(migrated_template, path)
    engine = make_engine(f"sqlite:///{path}")
    factory = session_factory(engine)
    with factory.begin() as session:
        add_customer(session, "C1")
        add_customer(session, "C2")
    yield factory
    engine.dispose()


@pytest.fixture
def redactor() -> BracketRedactor:
    return BracketRedactor()
