"""The store's foundation: the engine, the schema and the audit log."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, select

from connector.db import make_engine
from connector.model import utcnow
from connector.schema import audit_log, metadata


class StoreBase:
    """Owns the engine; every part of the store builds on it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)

    def create_schema(self) -> None:
        """Create missing tables (idempotent)."""
        metadata.create_all(self.engine)

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
        with self.engine.begin() as conn:
            self.audit(conn, actor, action, subject, detail)

    def audit_entries(self, subject: str | None = None) -> list[dict[str, Any]]:
        query = select(audit_log).order_by(audit_log.c.id)
        if subject is not None:
            query = query.where(audit_log.c.subject == subject)
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]
