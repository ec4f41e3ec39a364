"""The agent inbox: a handoff's claim, replies, escalation, hand-back and close; staff display names.

Revision ID: 0014
Revises: 0011
Create Date: 2026-12-01 (written against 0010's schema, checked with `alembic check`)

Migrations never import application code (models change; migrations must not).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIMES = ("waiting_since", "assigned_at", "first_reply_at", "escalated_at", "handed_back_at")


def upgrade() -> None:
    # Plain ADD COLUMNs (no batch): SQLite adds them in place, so the offline (--sql) route works.
    columns = [
        *(sa.Column(name, sa.DateTime(), nullable=True) for name in _TIMES),
        # Staff ids without a foreign key: SQLite can add one to an existing table only by
        # copying the table, which the offline route cannot do; staff accounts are disabled,
        # never deleted, so an id here always names its account.
        sa.Column("assigned_to", sa.Integer(), nullable=True),
        sa.Column("closed_by", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("close_note", sa.Text(), nullable=True),
        sa.Column("email_follow_up", sa.Boolean(), nullable=False, server_default=sa.false()),
    ]
    for column in columns:
        op.add_column("support_interactions", column)
    # Handoffs opened before this revision wait since they were opened.
    op.execute("UPDATE support_interactions SET waiting_since = created_at WHERE kind = 'handoff'")
    op.add_column("console_users", sa.Column("display_name", sa.String(length=80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("console_users", schema=None) as batch_op:
        batch_op.drop_column("display_name")
    with op.batch_alter_table("support_interactions", schema=None) as batch_op:
        for name in ("email_follow_up", "close_note", "outcome", "closed_by", "assigned_to", *reversed(_TIMES)):
            batch_op.drop_column(name)
