"""Shared fixtures: a fresh app on a temporary database for every test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from connector.config import Config, config_from_dict
from connector.store import Store
from webhooks import create_app

META_APP_SECRET = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"
META_VERIFY_TOKEN = "meatyhamhock"
META_PAGE_ID = "103149398319188"
IG_ACCOUNT_ID = "17841405309211844"
X_CONSUMER_SECRET = "z3ZX4v7mAAUGykl3EcmkqbartmuW8VFOOzCloLx9Q45P0hLrFu"
X_BRAND_IDS = ["2244994945", "4337869213"]
GENERIC_SOURCE = "listening"
GENERIC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
API_TOKEN = "test-api-token-0123456789"

PG_ADMIN_URL = os.environ.get("VENTANILLA_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def base_config(tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    """A complete configuration for tests; ``overrides`` replace top-level keys."""
    data: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path / 'test.db'}",
        "platforms": {
            "meta": {
                "app_secret": META_APP_SECRET,
                "verify_token": META_VERIFY_TOKEN,
                "brand_account_ids": [META_PAGE_ID, IG_ACCOUNT_ID],
            },
            "x": {"consumer_secret": X_CONSUMER_SECRET, "brand_user_ids": X_BRAND_IDS},
            "generic": {"sources": {GENERIC_SOURCE: {"secret": GENERIC_SECRET}}},
        },
        "desks": [{"name": "support", "connector": "local", "mapping": "local.yaml"}],
        "api": {"token": API_TOKEN},
        "brand": {"name": "Acme"},
        "dispatcher": {"backoff_base_seconds": 0.01, "backoff_max_seconds": 0.05, "max_attempts": 3},
    }
    data.update(overrides)
    return data


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return config_from_dict(base_config(tmp_path), base_dir=str(tmp_path))


@pytest.fixture
def store(config: Config) -> Iterator[Store]:
    db = Store(config.database_url)
    db.create_schema()
    yield db
    db.dispose()


@pytest.fixture
def app(config: Config, store: Store) -> Flask:
    return create_app(config, store=store)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def _pg_available() -> str | None:
    """Return None when PostgreSQL answers, else the reason it does not."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    url = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(url, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database; skipped when absent, a failure in CI."""
    reason = _pg_available()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI requires PostgreSQL: {reason}")
        pytest.skip(reason)
    import psycopg

    name = f"ventanilla_test_{uuid.uuid4().hex[:12]}"
    admin = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The store on SQLite and on PostgreSQL: the same assertions hold on both."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'any.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    db = Store(url)
    db.create_schema()
    yield db
    db.dispose()


def unique_suffix() -> str:
    return uuid.uuid4().hex[:8]
