"""The production path on PostgreSQL: signed webhooks → store → ticket → reply, and odd text."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from connector.config import config_from_dict
from connector.crm.local import list_local_tickets, resolve_ticket
from connector.dispatcher import Dispatcher
from connector.runtime import Runtime
from connector.store import Store
from tests.conftest import GENERIC_SECRET, GENERIC_SOURCE, META_APP_SECRET, base_config
from webhooks import create_app
from webhooks.signatures import sign_meta, sign_standard_webhook

SAMPLES = Path(__file__).parent.parent / "connector" / "samples"


def test_the_whole_loop_runs_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    config = config_from_dict(base_config(tmp_path, database_url=pg_url), base_dir=str(tmp_path))
    store = Store(config.database_url)
    store.create_schema()
    client = create_app(config, store=store).test_client()
    body = (SAMPLES / "facebook_comment.json").read_bytes().replace(b"104500000000001", b"103149398319188")
    for _ in range(3):
        response = client.post(
            "/webhooks/meta",
            data=body,
            content_type="application/json",
            headers=sign_meta(body, META_APP_SECRET),
        )
        assert response.status_code == 200
    generic = json.dumps(
        {
            "platform": "generic",
            "kind": "review",
            "external_id": "r-1",
            "author": {"platform_user_id": "u-1"},
            "text": "nul\u0000byte and ñ",
            "created_at": "2026-11-22T10:00:00Z",
        }
    ).encode()
    headers = sign_standard_webhook(generic, GENERIC_SECRET, f"msg_{uuid.uuid4().hex}")
    response = client.post(
        f"/webhooks/generic/{GENERIC_SOURCE}", data=generic, content_type="application/json", headers=headers
    )
    assert response.status_code == 200, response.get_json()
    runtime = Runtime(config, store)
    Dispatcher(runtime).run_until_idle()
    tickets = list_local_tickets(store)
    assert len(tickets) == 2
    facebook = next(t for t in tickets if t["thread_key"].startswith("facebook:"))
    resolve_ticket(store, facebook["id"], "refunded")
    Dispatcher(runtime).run_until_idle()
    (reply,) = store.list_replies()
    assert reply.state == "posted" and reply.platform == "facebook"
    review = next(t for t in tickets if t["thread_key"].startswith("generic:"))
    assert review["subject"] is not None and "\x00" not in review["subject"]
    store.dispose()
