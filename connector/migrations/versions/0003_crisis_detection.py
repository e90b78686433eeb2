"""Crisis detection: signals per topic, crises, their aliases and their members.

Added with crisis detection (commit 6af7b6f). Databases from before migrations may already
hold these tables: ``create_schema()`` (``metadata.create_all``) made them while it could not
add the ``replies`` columns of 0002. Such a database is stamped at the baseline and comes
through here with the tables in place, so each table is created only when absent; a database
upgraded from the baseline by migrations alone always creates all four.

Revision ID: 0003_crisis_detection
Revises: 0002_replies_detail_attempted_at
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision: str = "0003_crisis_detection"
down_revision: str | None = "0002_replies_detail_attempted_at"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _absent(name: str) -> bool:
    """True unless the table exists already (offline SQL assumes a database that lacks it)."""
    if context.is_offline_mode():
        return True
    return not sa.inspect(op.get_bind()).has_table(name)


def upgrade() -> None:
    if _absent("crises"):
        op.create_table(
            "crises",
            sa.Column("id", ID, autoincrement=True, nullable=False),
            sa.Column("topic", sa.String(length=160), nullable=False),
            sa.Column("open_key", sa.String(length=160), nullable=True),
            sa.Column("state", sa.String(length=16), nullable=False),
            sa.Column("started_at", sa.DateTime(), nullable=False),
            sa.Column("window_start", sa.DateTime(), nullable=False),
            sa.Column("window_count", sa.Integer(), nullable=False),
            sa.Column("baseline_per_window", sa.Float(), nullable=False),
            sa.Column("last_seen_at", sa.DateTime(), nullable=False),
            sa.Column("interaction_count", sa.Integer(), nullable=False),
            sa.Column("desk", sa.String(length=128), nullable=True),
            sa.Column("parent_system", sa.String(length=32), nullable=True),
            sa.Column("parent_ticket_id", sa.String(length=255), nullable=True),
            sa.Column("parent_ticket_number", sa.String(length=255), nullable=True),
            sa.Column("alert_claimed_at", sa.DateTime(), nullable=True),
            sa.Column("alerted_at", sa.DateTime(), nullable=True),
            sa.Column("closed_at", sa.DateTime(), nullable=True),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("open_key", name="uq_crises_open_topic"),
        )
        op.create_index("ix_crises_started_at", "crises", ["started_at"], unique=False)
    if _absent("crisis_signals"):
        op.create_table(
            "crisis_signals",
            sa.Column("id", ID, autoincrement=True, nullable=False),
            sa.Column("topic", sa.String(length=160), nullable=False),
            sa.Column("interaction_id", ID, nullable=False),
            sa.Column("at", sa.DateTime(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("topic", "interaction_id", name="uq_crisis_signals_topic_interaction"),
        )
        op.create_index("ix_crisis_signals_at", "crisis_signals", ["at"], unique=False)
        op.create_index("ix_crisis_signals_topic_at", "crisis_signals", ["topic", "at"], unique=False)
    if _absent("crisis_aliases"):
        op.create_table(
            "crisis_aliases",
            sa.Column("id", ID, autoincrement=True, nullable=False),
            sa.Column("crisis_id", ID, nullable=False),
            sa.Column("topic", sa.String(length=160), nullable=False),
            sa.ForeignKeyConstraint(["crisis_id"], ["crises.id"]),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("crisis_id", "topic", name="uq_crisis_aliases"),
        )
        op.create_index("ix_crisis_aliases_topic", "crisis_aliases", ["topic"], unique=False)
    if _absent("crisis_members"):
        op.create_table(
            "crisis_members",
            sa.Column("id", ID, autoincrement=True, nullable=False),
            sa.Column("crisis_id", ID, nullable=False),
            sa.Column("interaction_id", ID, nullable=False),
            sa.Column("joined_at", sa.DateTime(), nullable=False),
            sa.Column("linked_at", sa.DateTime(), nullable=True),
            sa.ForeignKeyConstraint(["crisis_id"], ["crises.id"]),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("crisis_id", "interaction_id", name="uq_crisis_members"),
        )
        op.create_index("ix_crisis_members_interaction", "crisis_members", ["interaction_id"], unique=False)


def downgrade() -> None:
    for name in ("crisis_members", "crisis_aliases", "crisis_signals", "crises"):
        op.drop_table(name)
