"""Merge the outreach (0002) and feedback (0003) branches into one head.

Revision ID: 0004
Revises: 0002, 0003
Create Date: 2026-11-22

Both branches were developed side by side from 0001 and touch different tables;
this revision only joins them, so the next migration has a single parent.
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0004"
down_revision: str | Sequence[str] | None = ("0002", "0003")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
