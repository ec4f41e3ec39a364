"""Help centre: the answers the assistant gave from it, for content gaps.

Revision ID: 0011
Revises: 0006
Create Date: 2026-12-01 (written against supportbot/helpcentre/models.py, checked with the schema test)

Migrations never import application code (models change; migrations must not).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "helpcentre_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("conversation_id", sa.String(length=255), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("question_redacted", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("article_slug", sa.String(length=120), nullable=True),
        sa.Column("offered", sa.Text(), nullable=False),
        sa.Column("cosine", sa.Float(), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=True),
        sa.Column("embedding_model", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_helpcentre_answers_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpcentre_answers")),
    )
    with op.batch_alter_table("helpcentre_answers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_helpcentre_answers_conversation_id"), ["conversation_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_helpcentre_answers_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_helpcentre_answers_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_helpcentre_answers_outcome"), ["outcome"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("helpcentre_answers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_helpcentre_answers_outcome"))
        batch_op.drop_index(batch_op.f("ix_helpcentre_answers_customer_id"))
        batch_op.drop_index(batch_op.f("ix_helpcentre_answers_created_at"))
        batch_op.drop_index(batch_op.f("ix_helpcentre_answers_conversation_id"))
    op.drop_table("helpcentre_answers")
