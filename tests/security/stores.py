"""Store snapshots for the security tests: "nothing changed in any store" is a comparison."""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlalchemy import MetaData, create_engine, select

from supportbot.store.db import make_engine, session_factory
from supportbot.store.demo import load_demo_data
from supportbot.store.migrate import upgrade_database


def demo_store(directory: Path, *, demo: bool = True) -> str:
    """A migrated profile store in ``directory`` (with the demo data unless ``demo`` is false)."""
    url = f"sqlite:///{directory / 'profile.db'}"
    upgrade_database(url=url)
    if demo:
        engine = make_engine(url)
        try:
            load_demo_data(session_factory=session_factory(engine))
        finally:
            engine.dispose()
    return url


def store_fingerprint(url: str) -> dict[str, str]:
    """Every table of a database → a hash of all its rows (order-independent)."""
    engine = create_engine(url)
    try:
        metadata = MetaData()
        metadata.reflect(engine)
        result: dict[str, str] = {}
        with engine.connect() as connection:
            for name, table in sorted(metadata.tables.items()):
                rows = sorted(repr(tuple(row)) for row in connection.execute(select(table)))
                result[name] = f"{len(rows)}:{hashlib.sha256(chr(10).join(rows).encode()).hexdigest()}"
        return result
    finally:
        engine.dispose()
