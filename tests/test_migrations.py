"""Schema migrations: head equals connector/schema.py, old databases come up with their data."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect, text

from connector import db_migrate
from connector.cli import main
from connector.db import normalize_url
from connector.schema import metadata
from connector.store import Store
from tests.conftest import base_config

BASELINE = db_migrate.BASELINE
HEAD = db_migrate.head()


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on SQLite and on PostgreSQL (skipped without it, a failure in CI)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'migrations.db'}"
    pg: str = request.getfixturevalue("pg_url")
    return pg


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'old.db'}"


def differences(url: str) -> list[Any]:
    """What autogenerate would change to make the database equal ``schema.metadata``."""
    engine = create_engine(normalize_url(url))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def execute(url: str, *statements: str, **params: Any) -> None:
    engine = create_engine(normalize_url(url))
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement), params)
    finally:
        engine.dispose()


def table_names(url: str) -> set[str]:
    engine = create_engine(normalize_url(url))
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def tables_and_reply_columns(url: str) -> tuple[set[str], set[str]]:
    engine = create_engine(normalize_url(url))
    try:
        with engine.connect() as conn:
            inspector = inspect(conn)
            return set(inspector.get_table_names()), {c["name"] for c in inspector.get_columns("replies")}
    finally:
        engine.dispose()


def old_release_database(url: str, revision: str = BASELINE) -> None:
    """A database as a release from before migrations left it: ``revision``'s tables, no history."""
    db_migrate.upgrade(url, revision)
    execute(url, "DROP TABLE alembic_version")


CREATED = datetime(2026, 11, 20, 9, 30)


def seed_reply(url: str) -> None:
    """One status change and its reply, written with the columns of the baseline."""
    execute(
        url,
        "INSERT INTO status_changes (id, desk, system, ticket_id, old_status, new_status, occurred_at, "
        "event_id, received_at) VALUES (1, 'support', 'local', 'T-1', 'open', 'resolved', :at, 'ev-1', :at)",
        "INSERT INTO replies (id, status_change_id, desk, ticket_id, platform, in_reply_to, thread_key, "
        "text, mode, channel, state, created_at) VALUES (1, 1, 'support', 'T-1', 'x', '190', "
        "'x:1:190', 'Fixed, thanks!', 'auto', 'public', 'posted', :at)",
        at=CREATED,
    )


def test_a_fresh_upgrade_builds_exactly_the_schema(url: str) -> None:
    result = db_migrate.upgrade(url)
    assert (result.before, result.after, result.adopted) == (None, HEAD, None)
    assert differences(url) == []
    assert db_migrate.current(url) == HEAD == db_migrate.head()


def test_create_schema_stamps_head_so_upgrade_has_nothing_to_do(url: str) -> None:
    store = Store(url)
    store.create_schema()
    store.create_schema()  # idempotent, still one version row
    store.dispose()
    assert db_migrate.current(url) == HEAD
    result = db_migrate.upgrade(url)
    assert not result.changed and result.adopted is None
    assert differences(url) == []


def test_an_old_database_upgrades_to_head_and_keeps_its_rows(url: str) -> None:
    old_release_database(url)
    seed_reply(url)
    assert db_migrate.status(url).state == "unversioned"

    result = db_migrate.upgrade(url)

    assert (result.before, result.after, result.adopted) == (BASELINE, HEAD, BASELINE)
    assert differences(url) == []
    store = Store(url)
    try:
        (reply,) = store.list_replies()
        assert (reply.id, reply.text, reply.state) == (1, "Fixed, thanks!", "posted")
        assert reply.detail is None
        with store.read() as conn:
            row = conn.execute(text("SELECT created_at, attempted_at FROM replies")).one()
        assert (str(row.created_at)[:16], row.attempted_at) == ("2026-11-20 09:30", None)
    finally:
        store.dispose()


def test_an_old_database_touched_by_create_schema_still_upgrades(url: str) -> None:
    """Releases before migrations ran create_all: new tables appeared, the new replies columns did not."""
    old_release_database(url)
    engine = create_engine(normalize_url(url))
    metadata.create_all(engine)
    engine.dispose()
    tables, columns = tables_and_reply_columns(url)
    assert tables >= db_migrate.CRISIS_TABLES and "detail" not in columns

    result = db_migrate.upgrade(url)

    assert (result.adopted, result.after) == (BASELINE, HEAD)
    assert differences(url) == []


@pytest.mark.parametrize("revision", [db_migrate.REPLIES_COLUMNS, db_migrate.CRISIS_DETECTION])
def test_old_databases_are_stamped_at_the_revision_their_tables_match(sqlite_url: str, revision: str) -> None:
    old_release_database(sqlite_url, revision)
    result = db_migrate.upgrade(sqlite_url)
    assert (result.adopted, result.after) == (revision, HEAD)
    assert differences(sqlite_url) == []


def test_a_database_that_is_not_ours_is_refused_untouched(sqlite_url: str) -> None:
    execute(sqlite_url, "CREATE TABLE interactions (id INTEGER PRIMARY KEY)")
    with pytest.raises(db_migrate.MigrationError, match="does not look like one made by Ventanilla"):
        db_migrate.upgrade(sqlite_url)
    assert table_names(sqlite_url) == {"interactions"}


def test_create_schema_leaves_a_database_behind_head_to_the_upgrade(sqlite_url: str) -> None:
    db_migrate.upgrade(sqlite_url, BASELINE)
    store = Store(sqlite_url)
    store.create_schema()
    store.dispose()
    tables, columns = tables_and_reply_columns(sqlite_url)
    assert not db_migrate.CRISIS_TABLES & tables and "detail" not in columns
    assert db_migrate.status(sqlite_url).state == "behind"
    assert db_migrate.upgrade(sqlite_url).after == HEAD


def test_downgrades_reach_an_empty_database(sqlite_url: str) -> None:
    from alembic import command

    db_migrate.upgrade(sqlite_url)
    command.downgrade(db_migrate.alembic_config(sqlite_url), "base")
    assert table_names(sqlite_url) == {"alembic_version"}


# --- the command line -------------------------------------------------------------------------


@pytest.fixture
def config_file(tmp_path: Path, sqlite_url: str) -> Path:
    path = tmp_path / "ventanilla.yaml"
    path.write_text(yaml.safe_dump(base_config(tmp_path, database_url=sqlite_url)), encoding="utf-8")
    return path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_db_upgrade_and_current_on_an_old_database(config_file: Path, sqlite_url: str) -> None:
    old_release_database(sqlite_url)
    seed_reply(sqlite_url)

    code, output = run("db", "current", "--config", str(config_file))
    assert code == 0 and "none (created by an earlier release: run `ventanilla db upgrade`)" in output

    code, output = run("db", "upgrade", "--config", str(config_file))
    assert code == 0, output
    assert f"the tables match {BASELINE}" in output
    assert f"{BASELINE} -> {HEAD}" in output

    code, output = run("db", "current", "--config", str(config_file))
    assert (code, output.strip()) == (0, f"{HEAD} (head)")

    code, output = run("db", "upgrade", "--config", str(config_file))
    assert code == 0 and f"already at {HEAD}" in output


def test_db_current_says_when_the_database_is_behind(config_file: Path, sqlite_url: str) -> None:
    db_migrate.upgrade(sqlite_url, BASELINE)
    code, output = run("db", "current", "--config", str(config_file))
    assert code == 0
    assert output.strip() == f"{BASELINE} (behind head {HEAD}: run `ventanilla db upgrade`)"


def test_db_upgrade_fails_clearly(config_file: Path, sqlite_url: str) -> None:
    execute(sqlite_url, "CREATE TABLE replies (id INTEGER PRIMARY KEY)")
    result = CliRunner().invoke(main, ["db", "upgrade", "--config", str(config_file)])
    assert result.exit_code == 1
    assert "db upgrade failed: the database has no migration history" in result.output


# --- serve refuses a database behind head --------------------------------------------------------


@pytest.fixture
def no_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Record waitress.serve instead of listening, in case serve gets that far."""
    import waitress

    calls: list[Any] = []
    monkeypatch.setattr(waitress, "serve", lambda *args, **kwargs: calls.append((args, kwargs)))
    yield calls


def test_serve_refuses_a_database_behind_head(
    config_file: Path, sqlite_url: str, no_server: list[Any]
) -> None:
    db_migrate.upgrade(sqlite_url, BASELINE)
    result = CliRunner().invoke(main, ["serve", "--config", str(config_file)])
    assert result.exit_code == 1
    assert f"is at schema revision {BASELINE}" in result.output
    assert "run `ventanilla db upgrade` first" in result.output
    assert no_server == []
    assert db_migrate.current(sqlite_url) == BASELINE  # untouched


def test_serve_refuses_an_old_database_before_creating_anything(
    config_file: Path, sqlite_url: str, no_server: list[Any]
) -> None:
    old_release_database(sqlite_url)
    result = CliRunner().invoke(main, ["serve", "--config", str(config_file)])
    assert result.exit_code == 1 and "created by an earlier release" in result.output
    assert not db_migrate.CRISIS_TABLES & table_names(sqlite_url)


def test_ensure_current_accepts_fresh_and_current_databases(sqlite_url: str) -> None:
    db_migrate.ensure_current(sqlite_url)  # empty: create_schema builds it at head
    db_migrate.upgrade(sqlite_url)
    db_migrate.ensure_current(sqlite_url)
    execute(sqlite_url, "UPDATE alembic_version SET version_num = '0999_from_the_future'")
    with pytest.raises(db_migrate.MigrationError, match="does not know"):
        db_migrate.ensure_current(sqlite_url)
