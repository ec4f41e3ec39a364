"""Bring a profile-store database to the current schema with Alembic.

Every part of the application that needs tables calls ``upgrade_database``; none
calls ``Base.metadata.create_all``. One path to a schema means a database created
by the demo, by a test or by hand is the same database production migrates.
"""

from __future__ import annotations

import threading

from alembic import command
from alembic.config import Config

from supportbot.settings import PROJECT_ROOT

# Alembic's ``op`` and ``context`` are process-wide proxies that a running migration
# points at its own context; two migrations in two threads of one process swap them
# under each other (seen: ``op`` was None half-way through a revision). Every
# migration this process runs holds this lock.
_MIGRATION_LOCK = threading.Lock()


def alembic_config(*, url: str) -> Config:
    """An Alembic config for ``url`` that works from any working directory.

    The URL goes into ``sqlalchemy.url`` (``%`` doubled, because the config is an
    interpolating ConfigParser), and logging stays the application's business.
    """
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["configure_logger"] = False
    return config


def upgrade_database(*, url: str) -> None:
    """Apply every migration up to the newest; a database already there is left alone.

    ``heads`` rather than ``head``: areas developed side by side may each branch from
    the same revision until a merge revision joins them.
    """
    with _MIGRATION_LOCK:
        command.upgrade(alembic_config(url=url), "heads")


def downgrade_database(*, url: str, revision: str) -> None:
    """Step the schema back to ``revision`` (``base`` drops every table Alembic made)."""
    with _MIGRATION_LOCK:
        command.downgrade(alembic_config(url=url), revision)
