"""WSGI entry points for bench/ingest.py: the real app and a bare Flask baseline.

gunicorn loads them as ``bench.targets:real_app()`` and ``bench.targets:bare_app()``; the
real app reads its database URL and Meta app secret from the environment, and expects the
schema to exist already (ingest.py creates it once, before the workers start).
"""

from __future__ import annotations

import os

from flask import Flask

DATABASE_ENV = "VENTANILLA_BENCH_DATABASE_URL"
META_SECRET_ENV = "VENTANILLA_BENCH_META_SECRET"
PAGE_ID = "104500000000001"


def real_app() -> Flask:
    """Ventanilla itself, on the benchmark's database, with only Meta configured."""
    from connector.store import Store
    from webhooks import create_app

    url = os.environ[DATABASE_ENV]
    config = {
        "database_url": url,
        "platforms": {"meta": {"app_secret": os.environ[META_SECRET_ENV], "brand_account_ids": [PAGE_ID]}},
    }
    return create_app(config, store=Store(url))


def bare_app() -> Flask:
    """The floor: Flask routing and an empty 200, nothing else."""
    app = Flask("bare")

    @app.post("/webhooks/meta")
    def receive() -> str:
        return ""

    @app.get("/healthz")
    def healthz() -> str:
        return "ok"

    return app
