"""Migrations: the schema they build is exactly models.py, by every route we use."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from supportbot.settings import PROJECT_ROOT
from supportbot.store.db import make_engine
from supportbot.store.migrate import alembic_config, downgrade_database, upgrade_database
from supportbot.store.schema import Base


def _table_names(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _diffs(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "compare_server_default": True}
            )
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def _alembic(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The alembic command line, from the project root as an operator would run it."""
    return subprocess.run(
        [sys.executable, "-m", "alembic", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_upgrade_creates_every_table_in_models(database_url: str) -> None:
    assert _table_names(database_url) == set(Base.metadata.tables) | {"alembic_version"}


def test_migrated_schema_equals_models(database_url: str) -> None:
    assert _diffs(database_url) == []


def test_upgrade_twice_is_harmless(database_url: str) -> None:
    upgrade_database(url=database_url)
    assert _diffs(database_url) == []


def test_downgrade_to_base_and_up_again(database_url: str) -> None:
    downgrade_database(url=database_url, revision="base")
    assert _table_names(database_url) == {"alembic_version"}
    upgrade_database(url=database_url)
    assert _diffs(database_url) == []


def test_migrations_in_two_threads_at_once_both_complete(tmp_path: Path) -> None:
    """The test suite migrates in a background thread while tests migrate their own
    databases; Alembic's module-wide ``op`` proxy must not be shared between them."""
    urls = [f"sqlite:///{tmp_path / f'db{n}.sqlite'}" for n in range(3)]
    errors: list[BaseException] = []

    def migrate(url: str) -> None:
        try:
            upgrade_database(url=url)
        except BaseException as error:  # reported below, with the failing thread's error
            errors.append(error)

    threads = [threading.Thread(target=migrate, args=(url,)) for url in urls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert errors == []
    for url in urls:
        assert _diffs(url) == []


def test_migrations_do_not_import_application_code() -> None:
    for path in (PROJECT_ROOT / "migrations" / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        assert not re.search(r"^\s*(from|import)\s+supportbot", source, re.M), path.name


def test_alembic_command_line_takes_the_url_from_x_argument(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    result = _alembic("-x", f"url={url}", "upgrade", "heads")
    assert result.returncode == 0, result.stderr
    assert _diffs(url) == []


def test_alembic_command_line_falls_back_to_settings(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'settings.db'}"
    result = _alembic("upgrade", "heads", env={"SUPPORTBOT_DATABASE_URL": url})
    assert result.returncode == 0, result.stderr
    assert "alembic_version" in _table_names(url)


def test_offline_sql_for_review(tmp_path: Path) -> None:
    result = _alembic("-x", f"url=sqlite:///{tmp_path / 'x.db'}", "upgrade", "heads", "--sql")
    assert result.returncode == 0, result.stderr
    assert "CREATE TABLE customers" in result.stdout
    assert not (tmp_path / "x.db").exists()


def test_migrations_have_a_single_head(database_url: str) -> None:
    """Branches developed side by side are merged, so the next migration has one parent."""
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(alembic_config(url=database_url)).get_heads()
    assert len(heads) == 1, f"several heads, add a merge revision: {heads}"
