"""Console audit log: remove search text and customer ids from entries written before the rule.

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-01 (written by hand: a data migration, no schema change)

Security review, issue 14 finding 9: conversation-export entries recorded their filters
whole, search text and customer id included. The console now writes only the other filters
and which personal ones were used (``supportbot.console.conversations.Filters.audit_details``);
this rewrites older entries the same way. Subjects that are raw customer or conversation
ids need the console secret to become keyed hashes, which a migration does not have: the
console rewrites those when that customer is forgotten (``supportbot.console.audit_log``).

Migrations never import application code (models change; migrations must not).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0008"
down_revision: str | None = "0007b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PERSONAL_FILTERS = ("q", "customer")

audit = sa.table(
    "console_audit",
    sa.column("id", sa.Integer),
    sa.column("action", sa.String),
    sa.column("details", sa.Text),
)


def scrubbed(details: str) -> str | None:
    """The details without personal filters, or None when there is nothing to change."""
    try:
        loaded = json.loads(details or "{}")
    except ValueError:
        return json.dumps({"unreadable": True})
    filters = loaded.get("filters") if isinstance(loaded, dict) else None
    if not isinstance(filters, dict) or not any(name in filters for name in PERSONAL_FILTERS):
        return None
    loaded["filters"] = {k: v for k, v in filters.items() if k not in PERSONAL_FILTERS}
    loaded["personal_filters"] = sorted(name for name in PERSONAL_FILTERS if name in filters)
    return json.dumps(loaded, sort_keys=True)


def upgrade() -> None:
    if context.is_offline_mode():
        # ``--sql`` renders statements for review without a database: there are no rows to read.
        # The rewrite runs when the migration is applied to a database.
        return
    connection = op.get_bind()
    rows = connection.execute(sa.select(audit.c.id, audit.c.details).where(audit.c.action == "export_conversations"))
    for row_id, details in rows.all():
        new = scrubbed(details)
        if new is not None:
            connection.execute(sa.update(audit).where(audit.c.id == row_id).values(details=new))


def downgrade() -> None:
    """Nothing to restore: the removed search texts are gone on purpose."""
