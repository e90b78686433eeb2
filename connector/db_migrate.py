"""Schema migrations (Alembic), configured from code: the scripts ship in ``connector/migrations``.

* ``create_schema()`` (``Store``) builds a fresh database with ``metadata.create_all`` and stamps
  it at head, so a later ``upgrade`` has nothing to do.
* ``upgrade(url)`` brings any database to head. A database without ``alembic_version`` that
  already holds our tables was made by a release from before migrations: its tables tell
  which revision it matches (``legacy_revision``), it is stamped there, then upgraded.
* ``ensure_current(url)`` refuses a database behind head (``serve`` runs it before starting).

Upgrades run in one transaction (PostgreSQL and SQLite both have transactional DDL), under a
PostgreSQL advisory lock that ``create_schema`` also takes, so processes starting together
neither race nor leave half an upgrade behind.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, event, inspect, make_url, text

from connector.db import READ_ONLY, make_engine, normalize_url
from connector.schema import metadata

SCRIPT_LOCATION = Path(__file__).resolve().with_name("migrations")
VERSION_TABLE = "alembic_version"
PG_LOCK_KEY = 7_310_448_002  # connector/crisis.py holds 7_310_448_001

BASELINE = "0001_baseline"
REPLIES_COLUMNS = "0002_replies_detail_attempted_at"
CRISIS_DETECTION = "0003_crisis_detection"

# What the releases before migrations could have created, to recognise their databases.
# Only those releases leave databases without a version table, so later revisions never
# need to be added here.
BASELINE_TABLES = frozenset(
    {
        "raw_events",
        "interactions",
        "outbox",
        "dead_letters",
        "thread_links",
        "identity_cache",
        "status_changes",
        "replies",
        "audit_log",
        "connector_state",
        "local_customers",
        "local_customer_identities",
        "local_tickets",
        "local_ticket_entries",
    }
)
NEW_REPLIES_COLUMNS = frozenset({"detail", "attempted_at"})
CRISIS_TABLES = frozenset({"crisis_signals", "crises", "crisis_aliases", "crisis_members"})


class MigrationError(Exception):
    """A database that cannot be migrated as it is, or one that is not at head."""


@dataclass(frozen=True)
class SchemaStatus:
    """Where a database stands: ``state`` is fresh, current, behind, unversioned or unknown."""

    current: str | None
    head: str
    state: str

    def message(self, url: str) -> str:
        where = redact(url)
        if self.state == "behind":
            return (
                f"the database {where} is at schema revision {self.current}, this release needs "
                f"{self.head}: run `ventanilla db upgrade` first"
            )
        if self.state == "unversioned":
            return (
                f"the database {where} was created by an earlier release and has no migration "
                f"history: run `ventanilla db upgrade` first (it brings it to {self.head})"
            )
        if self.state == "unknown":
            return (
                f"the database {where} is at schema revision {self.current}, which this release "
                f"does not know (made by a newer release?); its newest is {self.head}"
            )
        return f"the database {where} is at {self.current or 'no revision'} (head {self.head})"


@dataclass(frozen=True)
class UpgradeResult:
    before: str | None
    after: str | None
    adopted: str | None  # the revision an unversioned (pre-migration) database was stamped at

    @property
    def changed(self) -> bool:
        return self.before != self.after


def redact(url: str) -> str:
    """The URL without its password, fit for messages."""
    return make_url(normalize_url(url)).render_as_string(hide_password=True)


# --- Alembic plumbing ----------------------------------------------------------------------


def alembic_config(database_url: str | None = None, connection: Connection | None = None) -> AlembicConfig:
    """An Alembic configuration pointing at the packaged scripts; no ini file involved."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.set_main_option("file_template", "%%(rev)s")  # new revisions: versions/<rev id>.py
    if database_url is not None:
        # ConfigParser interpolates '%': double it so passwords with '%' survive.
        config.set_main_option("sqlalchemy.url", normalize_url(database_url).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@lru_cache(maxsize=1)
def script_directory() -> ScriptDirectory:
    """The revisions, read once per process (``create_schema`` runs in every test)."""
    return ScriptDirectory(str(SCRIPT_LOCATION))


def head() -> str:
    revision = script_directory().get_current_head()
    if revision is None:  # pragma: no cover - the package always ships revisions
        raise MigrationError("no migration scripts found in " + str(SCRIPT_LOCATION))
    return revision


def migration_engine(database_url: str) -> Engine:
    """The store's engine (SQLite: WAL, transactional DDL) with SQLite foreign keys off.

    Batch migrations rebuild SQLite tables by copy and drop, which enforced foreign keys
    would block or cascade; ``upgrade`` runs ``PRAGMA foreign_key_check`` before committing.
    """
    engine = make_engine(database_url)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _foreign_keys_off(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=OFF")
            cursor.close()

    return engine


@contextmanager
def _engine(database_url: str) -> Iterator[Engine]:
    engine = migration_engine(database_url)
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def _reading(database_url: str) -> Iterator[Connection]:
    """A connection that only reads (on SQLite it takes no write lock)."""
    with _engine(database_url) as engine, engine.connect().execution_options(**{READ_ONLY: True}) as conn:
        yield conn


def lock(conn: Connection) -> None:
    """Serialise schema work across processes (PostgreSQL; SQLite's BEGIN IMMEDIATE already does)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})


def _revision(conn: Connection) -> str | None:
    heads = MigrationContext.configure(conn).get_current_heads()
    if len(heads) > 1:
        raise MigrationError(f"the database has several schema revisions ({', '.join(heads)})")
    return heads[0] if heads else None


def _our_tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names()) & set(metadata.tables)


def _stamp(conn: Connection, revision: str) -> None:
    MigrationContext.configure(conn).stamp(script_directory(), revision)


def status_of(conn: Connection) -> SchemaStatus:
    newest = head()
    tables = set(inspect(conn).get_table_names())
    if VERSION_TABLE not in tables:
        state = "unversioned" if tables & set(metadata.tables) else "fresh"
        return SchemaStatus(None, newest, state)
    current = _revision(conn)
    if current is None:
        return SchemaStatus(None, newest, "unversioned" if tables & set(metadata.tables) else "fresh")
    if current == newest:
        return SchemaStatus(current, newest, "current")
    known = {script.revision for script in script_directory().walk_revisions()}
    return SchemaStatus(current, newest, "behind" if current in known else "unknown")


# --- what the store calls --------------------------------------------------------------------


def prepare_schema(conn: Connection) -> SchemaStatus:
    """``create_schema``'s work, in the caller's transaction.

    A fresh database (no version table, none of our tables) gets every table and is stamped
    at head; a database at head gets any missing table. One behind head, or from before
    migrations, is left as it is: ``create_all`` would add tables but never columns, half an
    upgrade; ``serve`` refuses it and ``ventanilla db upgrade`` brings it up.
    """
    lock(conn)
    status = status_of(conn)
    if status.state in ("fresh", "current"):
        metadata.create_all(conn)
    if status.state == "fresh":
        _stamp(conn, status.head)
    return status


def stamp_head(target: str | Connection) -> None:
    """Record that the database matches head (a URL, or a connection in a transaction)."""
    if isinstance(target, Connection):
        _stamp(target, head())
        return
    with _engine(target) as engine, engine.begin() as conn:
        lock(conn)
        _stamp(conn, head())


def current(database_url: str) -> str | None:
    """The database's revision, None when it has none."""
    with _reading(database_url) as conn:
        if not inspect(conn).has_table(VERSION_TABLE):
            return None
        return _revision(conn)


def status(database_url: str) -> SchemaStatus:
    with _reading(database_url) as conn:
        return status_of(conn)


def ensure_current(database_url: str) -> None:
    """Raise MigrationError unless the database is at head (or fresh: ``create_schema`` builds it)."""
    found = status(database_url)
    if found.state not in ("current", "fresh"):
        raise MigrationError(found.message(database_url))


def legacy_revision(conn: Connection) -> str:
    """The newest revision an unversioned database from before migrations matches."""
    inspector = inspect(conn)
    tables = set(inspector.get_table_names())
    missing = BASELINE_TABLES - tables
    if missing:
        raise MigrationError(
            "the database has no migration history and does not look like one made by Ventanilla "
            f"(missing tables: {', '.join(sorted(missing))}); point database_url at an empty "
            "database or at one Ventanilla created"
        )
    columns = {column["name"] for column in inspector.get_columns("replies")}
    present = NEW_REPLIES_COLUMNS & columns
    if not present:
        return BASELINE  # 0003 creates only the crisis tables it does not find
    if present != NEW_REPLIES_COLUMNS:
        raise MigrationError(
            "the replies table has only some of the columns of "
            f"{REPLIES_COLUMNS} ({', '.join(sorted(present))}); add the others by hand or restore a backup"
        )
    if not CRISIS_TABLES.issubset(tables):
        return REPLIES_COLUMNS
    return CRISIS_DETECTION


def upgrade(database_url: str, revision: str = "head") -> UpgradeResult:
    """Bring the database to ``revision`` (head by default) in one transaction."""
    with _engine(database_url) as engine, engine.begin() as conn:
        lock(conn)
        before = _revision(conn) if inspect(conn).has_table(VERSION_TABLE) else None
        adopted = None
        if before is None and _our_tables(conn):
            adopted = before = legacy_revision(conn)
            _stamp(conn, adopted)
        command.upgrade(alembic_config(connection=conn), revision)
        if conn.dialect.name == "sqlite":
            broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise MigrationError(f"the upgrade would break foreign keys: {broken[:5]}")
        after = _revision(conn)
    return UpgradeResult(before, after, adopted)
