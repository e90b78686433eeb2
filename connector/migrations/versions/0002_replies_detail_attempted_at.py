"""Replies remember why their last attempt failed (``detail``) and when it began (``attempted_at``).

Added with the publishers (commit 7ba17d9): the sending state is checked on the platform
before any second post, which needs the time of the attempt.

Revision ID: 0002_replies_detail_attempted_at
Revises: 0001_baseline
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002_replies_detail_attempted_at"
down_revision: str | None = "0001_baseline"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    with op.batch_alter_table("replies") as batch_op:
        batch_op.add_column(sa.Column("detail", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("attempted_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("replies") as batch_op:
        batch_op.drop_column("attempted_at")
        batch_op.drop_column("detail")
