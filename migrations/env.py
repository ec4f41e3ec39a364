"""Alembic environment for the profile store (app environment).

Runs both from the ``alembic`` command line and programmatically through
``supportbot.store.migrate.upgrade_database``. The database URL is never written
in ``alembic.ini``: see ``_database_url`` for where it comes from and in which order.
"""

from __future__ import annotations

import logging.config
from typing import Any

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import DateTime
from sqlalchemy.pool import NullPool

from supportbot.settings import get_settings
from supportbot.store.db import make_engine
from supportbot.store.models import UTCDateTime
from supportbot.store.schema import Base

config = context.config
target_metadata = Base.metadata


def _database_url() -> str:
    """``-x url=...`` wins, then a programmatically set ``sqlalchemy.url``, then settings."""
    x_url = context.get_x_argument(as_dictionary=True).get("url")
    if x_url:
        return x_url
    configured = config.get_main_option("sqlalchemy.url")
    if configured:
        return configured
    return get_settings().database_url


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | bool:
    """Render our UTC column type as a plain DateTime.

    A migration must not import application code: models change later, and an
    old migration that imports them would silently change meaning or break.
    ``UTCDateTime`` only converts values in Python; in the database it is a DateTime.
    """
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime()"  # script.py.mako imports sqlalchemy as sa
    return False


def _compare_type(
    _context: Any, _inspected: Any, _metadata: Any, inspected_type: Any, metadata_type: Any
) -> bool | None:
    """Compare ``UTCDateTime`` as the DateTime it is stored as; defer everything else."""
    if isinstance(metadata_type, UTCDateTime):
        return not isinstance(inspected_type, DateTime)
    return None


def _configure_logging() -> None:
    # Called programmatically, the application owns logging: fileConfig would
    # otherwise replace its handlers and disable its loggers.
    if config.config_file_name is not None and config.attributes.get("configure_logger", True):
        logging.config.fileConfig(config.config_file_name, disable_existing_loggers=False)


def run_migrations_offline() -> None:
    """Emit SQL to stdout (``alembic upgrade head --sql``) for a DBA to review and run."""
    url = _database_url()
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=url.startswith("sqlite"),
        compare_type=_compare_type,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(_database_url(), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            is_sqlite = connection.dialect.name == "sqlite"
            if is_sqlite:
                # Batch mode rebuilds a SQLite table by copy, drop and rename; with
                # foreign keys on, the drop would cascade-delete every child row.
                # The pragma only takes effect outside a transaction.
                connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
                connection.commit()
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=is_sqlite,
                compare_type=_compare_type,
                render_item=_render_item,
            )
            with context.begin_transaction():
                context.run_migrations()
            if is_sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                connection.commit()
                if broken:
                    raise RuntimeError(f"migration left broken foreign keys: {broken[:5]}")
    finally:
        engine.dispose()


_configure_logging()
if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
