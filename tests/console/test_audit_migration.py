"""Migration 0008 on a real database (SQLite and PostgreSQL): export entries written before the audit rule lose their
search text and customer id (issue 14 finding 9); everything else in the log is left as it was."""

from __future__ import annotations

import json

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import text

from supportbot.store.db import make_engine
from supportbot.store.migrate import alembic_config, upgrade_database


def test_older_export_entries_lose_their_search_text_and_customer(empty_database_url: str) -> None:
    url = empty_database_url
    command.upgrade(alembic_config(url=url), "0006")
    old = {"filters": {"q": "555 0147", "customer": "C100001", "since": "2026-01-01"}, "count": 3, "reveal": True}
    engine = make_engine(url)
    with engine.begin() as connection:
        for action, details in (
            ("export_conversations", json.dumps(old)),
            ("export_conversations", json.dumps({"filters": {"handoff": "yes"}, "count": 1, "reveal": False})),
            ("forget_customer", json.dumps({"deleted": {"customers": 1}})),
        ):
            connection.execute(
                text("INSERT INTO console_audit (at, action, subject, details) VALUES (CURRENT_TIMESTAMP, :a, '', :d)"),
                {"a": action, "d": details},
            )
    upgrade_database(url=url)
    with engine.connect() as connection:
        rows = [json.loads(d) for (d,) in connection.execute(text("SELECT details FROM console_audit ORDER BY id"))]
        version = connection.scalar(text("SELECT version_num FROM alembic_version"))
    engine.dispose()
    assert version == ScriptDirectory.from_config(alembic_config(url=url)).get_current_head()  # all the way up
    assert rows[0] == {
        "filters": {"since": "2026-01-01"},
        "personal_filters": ["customer", "q"],
        "count": 3,
        "reveal": True,
    }
    assert rows[1] == {"filters": {"handoff": "yes"}, "count": 1, "reveal": False}
    assert rows[2] == {"deleted": {"customers": 1}}
