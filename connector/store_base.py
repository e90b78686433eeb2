"""The store's foundation: the engine, the schema and the audit log."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from sqlalchemy import Connection, select

from connector.db import READ_ONLY, make_engine
from connector.model import utcnow
from connector.schema import audit_log


class StoreBase:
    """Owns the engine; every part of the store builds on it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        # SQLite has one writer at a time and its busy handler sleeps up to 100 ms between
        # tries; threads of one process queue on a lock instead, which hands over at once.
        self._writers: AbstractContextManager[Any] = (
            threading.RLock() if self.engine.dialect.name == "sqlite" else nullcontext()
        )

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction, committed on exit (rolled back on error)."""
        with self._writers, self.engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only connection: on SQLite it never takes the write lock."""
        with self.engine.connect().execution_options(**{READ_ONLY: True}) as conn:
            yield conn

    def create_schema(self) -> None:
        """Create missing tables (idempotent); a fresh database is stamped at the newest migration.

        A database behind the migrations is left alone: ``ventanilla db upgrade`` brings it up.
        """
        from connector.db_migrate import prepare_schema

        with self.write() as conn:
            prepare_schema(conn)

    def dispose(self) -> None:
        self.engine.dispose()

    @staticmethod
    def audit(conn: Connection, actor: str, action: str, subject: str, detail: Mapping[str, Any]) -> None:
        conn.execute(
            audit_log.insert().values(
                at=utcnow(), actor=actor, action=action, subject=subject, detail=dict(detail)
            )
        )

    def audit_event(self, actor: str, action: str, subject: str, detail: Mapping[str, Any]) -> None:
        """Write one audit entry in its own transaction."""
        with self.write() as conn:
            self.audit(conn, actor, action, subject, detail)

    def audit_entries(self, subject: str | None = None) -> list[dict[str, Any]]:
        query = select(audit_log).order_by(audit_log.c.id)
        if subject is not None:
            query = query.where(audit_log.c.subject == subject)
        with self.read() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]
