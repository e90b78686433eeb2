"""Baseline: the schema as the releases before migrations created it.

Everything up to the ``connector_state`` table (commit 0cbd5bb), before ``replies`` gained
``detail`` and ``attempted_at``. Types are spelled out here rather than imported from
``connector.schema``: a revision describes the schema of its day and must not change with it.
``UTCDateTime`` is stored as a plain ``DateTime`` (naive UTC), which is all the database sees.

Revision ID: 0001_baseline
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001_baseline"
down_revision: str | None = None
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

# Integer primary keys: BIGINT on PostgreSQL, INTEGER on SQLite (which only autoincrements those).
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

TABLES = (
    "replies",
    "local_ticket_entries",
    "local_customer_identities",
    "interactions",
    "dead_letters",
    "thread_links",
    "status_changes",
    "raw_events",
    "outbox",
    "local_tickets",
    "local_customers",
    "identity_cache",
    "connector_state",
    "audit_log",
)


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=512), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "connector_state",
        sa.Column("scope", sa.String(length=128), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key"),
    )
    op.create_table(
        "identity_cache",
        sa.Column("desk", sa.String(length=128), nullable=False),
        sa.Column("author_key", sa.String(length=255), nullable=False),
        sa.Column("customer", sa.JSON(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("desk", "author_key"),
    )
    op.create_table(
        "local_customers",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("email", sa.String(length=255), nullable=True),
        sa.Column("phone", sa.String(length=64), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("tier", sa.String(length=64), nullable=True),
        sa.Column("account_id", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("customer_id"),
    )
    op.create_table(
        "local_tickets",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("desk", sa.String(length=128), nullable=False),
        sa.Column("external_key", sa.String(length=600), nullable=False),
        sa.Column("thread_key", sa.String(length=512), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("priority", sa.String(length=4), nullable=True),
        sa.Column("explanation", sa.Text(), nullable=True),
        sa.Column("customer_id", sa.String(length=128), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("linked_ticket_id", sa.String(length=64), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("external_key"),
    )
    op.create_table(
        "outbox",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("ref_id", ID, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("lease_owner", sa.String(length=128), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "ref_id", name="uq_outbox_kind_ref"),
    )
    op.create_index("ix_outbox_claim", "outbox", ["state", "next_attempt_at"], unique=False)
    op.create_table(
        "raw_events",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("delivery_id", sa.String(length=255), nullable=True),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "delivery_id", name="uq_raw_events_delivery"),
    )
    op.create_table(
        "status_changes",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("desk", sa.String(length=128), nullable=False),
        sa.Column("system", sa.String(length=32), nullable=False),
        sa.Column("ticket_id", sa.String(length=255), nullable=False),
        sa.Column("old_status", sa.String(length=32), nullable=True),
        sa.Column("new_status", sa.String(length=32), nullable=False),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("system", "event_id", name="uq_status_changes_event"),
    )
    op.create_table(
        "thread_links",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("desk", sa.String(length=128), nullable=False),
        sa.Column("thread_key", sa.String(length=512), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("system", sa.String(length=32), nullable=False),
        sa.Column("ticket_id", sa.String(length=255), nullable=False),
        sa.Column("ticket_number", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("previous_ticket_id", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("desk", "thread_key", "generation", name="uq_thread_links_generation"),
    )
    op.create_index("ix_thread_links_ticket", "thread_links", ["system", "ticket_id"], unique=False)
    op.create_table(
        "dead_letters",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("job_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("ref_id", ID, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("replayed_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["job_id"], ["outbox.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "interactions",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("thread_key", sa.String(length=512), nullable=False),
        sa.Column("parent_external_id", sa.String(length=255), nullable=True),
        sa.Column("brand_account_id", sa.String(length=128), nullable=False),
        sa.Column("author_key", sa.String(length=255), nullable=False),
        sa.Column("author", sa.JSON(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("permalink", sa.Text(), nullable=True),
        sa.Column("raw", sa.JSON(), nullable=False),
        sa.Column("from_brand", sa.Boolean(), nullable=False),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.Column("edited_at", sa.DateTime(), nullable=True),
        sa.Column("raw_event_id", ID, nullable=False),
        sa.Column("desk", sa.String(length=128), nullable=True),
        sa.Column("ticket_id", sa.String(length=255), nullable=True),
        sa.Column("triage", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["raw_event_id"], ["raw_events.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("platform", "external_id", name="uq_interactions_platform_external_id"),
    )
    op.create_index("ix_interactions_thread_key", "interactions", ["thread_key"], unique=False)
    op.create_table(
        "local_customer_identities",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["local_customers.customer_id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "platform", "value", name="uq_local_identity"),
    )
    op.create_table(
        "local_ticket_entries",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("ticket_id", ID, nullable=False),
        sa.Column("interaction_id", ID, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["local_tickets.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ticket_id", "interaction_id", name="uq_local_entry"),
    )
    op.create_table(
        "replies",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("status_change_id", ID, nullable=False),
        sa.Column("desk", sa.String(length=128), nullable=False),
        sa.Column("ticket_id", sa.String(length=255), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("in_reply_to", sa.String(length=255), nullable=False),
        sa.Column("thread_key", sa.String(length=512), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("mode", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("platform_reply_id", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("posted_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["status_change_id"], ["status_changes.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("status_change_id", name="uq_replies_status_change"),
    )


def downgrade() -> None:
    for name in TABLES:
        op.drop_table(name)
