"""Engine and session factories. Nothing is created at import time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

POSTGRES_DRIVER = "postgresql+psycopg"
"""The app env's PostgreSQL driver: psycopg 3. ``postgresql://`` alone would make SQLAlchemy look
for psycopg2, which only the Rasa env has, so plain ``postgresql://`` URLs are read as this."""


def normalize_url(url: str | URL) -> URL:
    """The URL as this environment can open it: ``postgresql://`` becomes ``postgresql+psycopg://``."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername=POSTGRES_DRIVER)
    return parsed


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """Build an engine for SQLite or PostgreSQL (any other SQLAlchemy URL is passed through).

    SQLite: create the parent folder and enforce foreign keys. SQLite ignores foreign keys
    unless each connection turns them on, and a concurrent action server + scheduler need WAL
    mode and a busy timeout to not fail with "database is locked".

    PostgreSQL: ``pool_pre_ping``, so that a connection the server dropped (a restart, a
    failover) is replaced when it is next taken from the pool instead of failing the first
    statement of every pooled connection after the restart.
    """
    parsed = normalize_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {"timeout": 30})
    elif backend == "postgresql":
        kwargs.setdefault("pool_pre_ping", True)
    engine = create_engine(parsed, **kwargs)
    if backend == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
