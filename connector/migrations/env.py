"""Alembic's environment for Ventanilla, configured from code: no alembic.ini is needed.

``connector.db_migrate`` runs it with an open connection (``config.attributes["connection"]``)
inside its own transaction. Run by the ``alembic`` command instead, it connects to
``sqlalchemy.url`` when the ini file sets one, else to the ``database_url`` of the Ventanilla
configuration (``$VENTANILLA_CONFIG``, else the built-in defaults).
"""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import Connection

from connector.schema import metadata

config = context.config

# render_as_batch: SQLite alters most things by copying the table; autogenerate writes those
# changes as batch operations, which run as plain ALTERs on PostgreSQL.
OPTIONS: dict[str, Any] = {"target_metadata": metadata, "render_as_batch": True, "compare_type": True}


def _database_url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from connector.config import load_config

    return load_config().database_url


def run_offline() -> None:
    """Write the SQL instead of running it (``alembic upgrade head --sql``)."""
    from connector.db import normalize_url

    context.configure(url=normalize_url(_database_url()), literal_binds=True, **OPTIONS)
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    context.configure(connection=connection, **OPTIONS)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from connector.db_migrate import migration_engine

    engine = migration_engine(_database_url())
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
