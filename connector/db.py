"""Engine construction and the few dialect differences the store has to care about."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Engine, Executable, Table, create_engine, event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

SQLITE_BUSY_TIMEOUT_S = 30
READ_ONLY = "ventanilla_read_only"


def normalize_url(url: str) -> str:
    """Point bare ``postgresql://`` URLs at psycopg 3, the driver we ship."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL, a busy timeout and write-locking transactions."""
    url = normalize_url(url)
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions start (see "begin" below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the lock up front: a deferred transaction that reads then writes can
        # fail with SQLITE_BUSY without waiting, which would turn load into errors. Readers
        # (Store.read) need no lock at all under WAL.
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")

    return engine


@lru_cache(maxsize=64)
def _insert_ignore_statement(dialect: str, table: Table, conflict: tuple[str, ...]) -> Executable:
    """Build each INSERT … ON CONFLICT DO NOTHING once: building it per row dominated ingest."""
    insert = sqlite_insert if dialect == "sqlite" else pg_insert
    return insert(table).on_conflict_do_nothing(index_elements=list(conflict)).returning(table.c.id)


def insert_ignore(
    conn: Connection, table: Table, values: Mapping[str, Any], conflict: tuple[str, ...]
) -> int | None:
    """Insert a row unless it collides on ``conflict``; return the new id, or None if it existed."""
    dialect = conn.dialect.name
    if dialect in ("sqlite", "postgresql"):
        row = conn.execute(_insert_ignore_statement(dialect, table, conflict), dict(values)).first()
        return None if row is None else int(row[0])
    try:
        with conn.begin_nested():
            result = conn.execute(table.insert().values(**values))
    except IntegrityError:
        return None
    key = result.inserted_primary_key
    return None if key is None else int(key[0])
