"""Outreach: the render mark of an outbox row (rendered_at, renders).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 (written against a database at 0006, checked with alembic check)

action_deliver_outreach writes the mark in the same transaction as it renders the
message, so "rendered" is a fact of the store, not an assumption drawn from Rasa's
HTTP 200 (security finding 6). Migrations never import application code.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outreach_outbox") as batch:
        batch.add_column(sa.Column("rendered_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("renders", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("outreach_outbox") as batch:
        batch.drop_column("renders")
        batch.drop_column("rendered_at")
