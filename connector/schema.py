"""Database tables (SQLAlchemy Core). One metadata for SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)

metadata = MetaData()

# SQLite integer primary keys must be INTEGER to autoincrement; PostgreSQL gets BIGINT.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Store naive UTC, always hand back aware UTC (SQLite keeps no offsets)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use connector.model.utcnow()")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        result: datetime = value
        return result.replace(tzinfo=UTC) if result.tzinfo is None else result.astimezone(UTC)


def _pk() -> Column[int]:
    return Column("id", Id, primary_key=True, autoincrement=True)


raw_events = Table(
    "raw_events",
    metadata,
    _pk(),
    Column("source", String(64), nullable=False),
    Column("delivery_id", String(255)),
    Column("received_at", UTCDateTime, nullable=False),
    Column("headers", JSON, nullable=False),
    Column("body", Text, nullable=False),
    Column("summary", JSON, nullable=False),
    UniqueConstraint("source", "delivery_id", name="uq_raw_events_delivery"),
)

interactions = Table(
    "interactions",
    metadata,
    _pk(),
    Column("platform", String(32), nullable=False),
    Column("external_id", String(255), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("thread_key", String(512), nullable=False),
    Column("parent_external_id", String(255)),
    Column("brand_account_id", String(128), nullable=False),
    Column("author_key", String(255), nullable=False),
    Column("author", JSON, nullable=False),
    Column("text", Text, nullable=False),
    Column("language", String(16)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("permalink", Text),
    Column("raw", JSON, nullable=False),
    Column("from_brand", Boolean, nullable=False, default=False),
    Column("removed", Boolean, nullable=False, default=False),
    Column("edited_at", UTCDateTime),
    Column("raw_event_id", ForeignKey("raw_events.id"), nullable=False),
    Column("desk", String(128)),
    Column("ticket_id", String(255)),
    Column("triage", JSON),
    UniqueConstraint("platform", "external_id", name="uq_interactions_platform_external_id"),
    Index("ix_interactions_thread_key", "thread_key"),
)

outbox = Table(
    "outbox",
    metadata,
    _pk(),
    Column("kind", String(32), nullable=False),
    Column("ref_id", Id, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("lease_until", UTCDateTime),
    Column("lease_owner", String(128)),
    Column("last_error", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("kind", "ref_id", name="uq_outbox_kind_ref"),
    Index("ix_outbox_claim", "state", "next_attempt_at"),
)

dead_letters = Table(
    "dead_letters",
    metadata,
    _pk(),
    Column("job_id", ForeignKey("outbox.id"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("ref_id", Id, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("error", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("replayed_at", UTCDateTime),
)

thread_links = Table(
    "thread_links",
    metadata,
    _pk(),
    Column("desk", String(128), nullable=False),
    Column("thread_key", String(512), nullable=False),
    Column("generation", Integer, nullable=False),
    Column("system", String(32), nullable=False),
    Column("ticket_id", String(255), nullable=False),
    Column("ticket_number", String(255)),
    Column("status", String(16), nullable=False),
    Column("previous_ticket_id", String(255)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("resolved_at", UTCDateTime),
    UniqueConstraint("desk", "thread_key", "generation", name="uq_thread_links_generation"),
    Index("ix_thread_links_ticket", "system", "ticket_id"),
)

identity_cache = Table(
    "identity_cache",
    metadata,
    Column("desk", String(128), primary_key=True),
    Column("author_key", String(255), primary_key=True),
    Column("customer", JSON, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

status_changes = Table(
    "status_changes",
    metadata,
    _pk(),
    Column("desk", String(128), nullable=False),
    Column("system", String(32), nullable=False),
    Column("ticket_id", String(255), nullable=False),
    Column("old_status", String(32)),
    Column("new_status", String(32), nullable=False),
    Column("resolution", Text),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("event_id", String(255), nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    UniqueConstraint("system", "event_id", name="uq_status_changes_event"),
)

replies = Table(
    "replies",
    metadata,
    _pk(),
    Column("status_change_id", ForeignKey("status_changes.id"), nullable=False),
    Column("desk", String(128), nullable=False),
    Column("ticket_id", String(255), nullable=False),
    Column("platform", String(32), nullable=False),
    Column("in_reply_to", String(255), nullable=False),
    Column("thread_key", String(512), nullable=False),
    Column("text", Text, nullable=False),
    Column("mode", String(32), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("platform_reply_id", String(255)),
    Column("detail", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("attempted_at", UTCDateTime),
    Column("posted_at", UTCDateTime),
    UniqueConstraint("status_change_id", name="uq_replies_status_change"),
)

audit_log = Table(
    "audit_log",
    metadata,
    _pk(),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("subject", String(512), nullable=False),
    Column("detail", JSON, nullable=False),
)

connector_state = Table(
    "connector_state",
    metadata,
    Column("scope", String(128), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("value", JSON, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# --- the built-in local desk -------------------------------------------------------

customers = Table(
    "local_customers",
    metadata,
    _pk(),
    Column("customer_id", String(128), nullable=False, unique=True),
    Column("name", String(255)),
    Column("email", String(255)),
    Column("phone", String(64)),
    Column("value", Float),
    Column("tier", String(64)),
    Column("account_id", String(128)),
)

customer_identities = Table(
    "local_customer_identities",
    metadata,
    _pk(),
    Column("customer_id", String(128), ForeignKey("local_customers.customer_id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("platform", String(32), nullable=False),
    Column("value", String(255), nullable=False),
    UniqueConstraint("kind", "platform", "value", name="uq_local_identity"),
)

local_tickets = Table(
    "local_tickets",
    metadata,
    _pk(),
    Column("desk", String(128), nullable=False),
    Column("external_key", String(600), nullable=False, unique=True),
    Column("thread_key", String(512), nullable=False),
    Column("status", String(32), nullable=False),
    Column("priority", String(4)),
    Column("explanation", Text),
    Column("customer_id", String(128)),
    Column("fields", JSON, nullable=False),
    Column("linked_ticket_id", String(64)),
    Column("resolution", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("resolved_at", UTCDateTime),
)

local_ticket_entries = Table(
    "local_ticket_entries",
    metadata,
    _pk(),
    Column("ticket_id", ForeignKey("local_tickets.id"), nullable=False),
    Column("interaction_id", Id, nullable=False),
    Column("text", Text, nullable=False),
    Column("author", String(255)),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("ticket_id", "interaction_id", name="uq_local_entry"),
)

# --- crisis detection (connector/crisis.py) -------------------------------------------

# One row per (topic, negative interaction): the sliding windows and baselines count these.
# ``at`` is when the interaction was written (its created_at, never later than ingestion).
crisis_signals = Table(
    "crisis_signals",
    metadata,
    _pk(),
    Column("topic", String(160), nullable=False),
    Column("interaction_id", Id, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    UniqueConstraint("topic", "interaction_id", name="uq_crisis_signals_topic_interaction"),
    Index("ix_crisis_signals_topic_at", "topic", "at"),
    Index("ix_crisis_signals_at", "at"),
)

# ``open_key`` is the topic while the crisis is open and NULL once closed: its unique
# constraint allows one open crisis per topic on every database (NULLs never collide),
# which is what makes raising exactly-once across workers and processes.
crises = Table(
    "crises",
    metadata,
    _pk(),
    Column("topic", String(160), nullable=False),
    Column("open_key", String(160)),
    Column("state", String(16), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("window_start", UTCDateTime, nullable=False),
    Column("window_count", Integer, nullable=False),
    Column("baseline_per_window", Float, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("interaction_count", Integer, nullable=False),
    Column("desk", String(128)),
    Column("parent_system", String(32)),
    Column("parent_ticket_id", String(255)),
    Column("parent_ticket_number", String(255)),
    Column("alert_claimed_at", UTCDateTime),
    Column("alerted_at", UTCDateTime),
    Column("closed_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("open_key", name="uq_crises_open_topic"),
    Index("ix_crises_started_at", "started_at"),
)

# Other topics the same burst was talking about (its other hashtags or shared terms):
# interactions carrying them join the crisis instead of raising one of their own.
crisis_aliases = Table(
    "crisis_aliases",
    metadata,
    _pk(),
    Column("crisis_id", ForeignKey("crises.id"), nullable=False),
    Column("topic", String(160), nullable=False),
    UniqueConstraint("crisis_id", "topic", name="uq_crisis_aliases"),
    Index("ix_crisis_aliases_topic", "topic"),
)

# The children of a crisis; ``linked_at`` is set once the child's ticket is linked to the
# parent incident (or once we know its desk cannot link).
crisis_members = Table(
    "crisis_members",
    metadata,
    _pk(),
    Column("crisis_id", ForeignKey("crises.id"), nullable=False),
    Column("interaction_id", Id, nullable=False),
    Column("joined_at", UTCDateTime, nullable=False),
    Column("linked_at", UTCDateTime),
    UniqueConstraint("crisis_id", "interaction_id", name="uq_crisis_members"),
    Index("ix_crisis_members_interaction", "interaction_id"),
)
