"""A whole loop for publisher tests: signed webhooks in, local desk, dispatcher, replies out.

The platform APIs are the emulators in ``tests/emulators`` reached over real HTTP(S) by our
real clients; nothing of ours is mocked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import update

from connector.config import Config, config_from_dict
from connector.crm.local import list_local_tickets, resolve_ticket
from connector.dispatcher import Dispatcher
from connector.model import utcnow
from connector.publish.graph_api import reset_pauses
from connector.publish.x_api import reset_limits
from connector.runtime import Runtime
from connector.schema import outbox
from connector.store import Reply, Store
from tests.conftest import IG_ACCOUNT_ID, META_APP_SECRET, META_PAGE_ID, base_config
from tests.signing import compact, post_x
from webhooks import create_app
from webhooks.signatures import sign_meta


class Crash(BaseException):
    """A worker dying between the platform's answer and our record of it."""


@dataclass
class Loop:
    config: Config
    store: Store
    client: FlaskClient
    runtime: Runtime
    dispatcher: Dispatcher

    def meta(self, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        headers = {**sign_meta(body, META_APP_SECRET), "Content-Type": "application/json"}
        response = self.client.post("/webhooks/meta", data=body, headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)

    def x(self, payload: dict[str, Any]) -> None:
        response = post_x(self.client, compact(payload))
        assert response.status_code == 200, response.get_data(as_text=True)

    def run(self) -> None:
        self.dispatcher.run_until_idle(timeout=30)

    def tickets(self) -> list[dict[str, Any]]:
        return list_local_tickets(self.store)

    def resolve_all(
        self, note: str = "Refund sent", status: str = "resolved", reply: str | None = None
    ) -> None:
        for ticket in self.tickets():
            if ticket["status"] == "open":
                resolve_ticket(self.store, str(ticket["id"]), note, status, reply)
        self.run()

    def resolve_all_crashing_after_posting(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Resolve every ticket while the worker dies right after the platform answered."""

        def crash(store: Store, reply_id: int, platform_reply_id: str) -> None:
            raise Crash(platform_reply_id)

        monkeypatch.setattr(Store, "mark_reply_posted", crash)
        with pytest.raises(Crash):
            self.resolve_all()
        monkeypatch.undo()

    def replies(self) -> list[Reply]:
        return self.store.list_replies()

    def make_jobs_due(self) -> None:
        """Skip the backoff: every pending job is due now and every lease has expired."""
        now = utcnow()
        with self.store.write() as conn:
            conn.execute(
                update(outbox)
                .where(outbox.c.state.in_(("pending", "leased")))
                .values(next_attempt_at=now, lease_until=now, state="pending")
            )

    def pending_retry_at(self) -> list[datetime]:
        with self.store.read() as conn:
            rows = conn.execute(outbox.select().where(outbox.c.state == "pending"))
            return [row.next_attempt_at for row in rows]


def make_loop(
    tmp_path: Path,
    *,
    meta: dict[str, Any] | None = None,
    x: dict[str, Any] | None = None,
    mode: str = "live",
    **overrides: Any,
) -> Loop:
    reset_pauses()
    reset_limits()
    data = base_config(tmp_path, **overrides)
    data["publish"] = {"mode": mode}
    data["platforms"]["meta"].update(meta or {})
    data["platforms"]["x"].update(x or {})
    config = config_from_dict(data, base_dir=str(tmp_path))
    store = Store(config.database_url)
    store.create_schema()
    runtime = Runtime(config, store)
    client = create_app(config, store=store).test_client()
    return Loop(config, store, client, runtime, Dispatcher(runtime))


def meta_settings(graph: Any, **extra: Any) -> dict[str, Any]:
    """``platforms.meta`` pointing at a MetaGraphEmulator."""
    settings = {
        "graph_base_url": graph.base_url,
        "page_access_token": graph.page_token,
        "page_id": META_PAGE_ID,
        "instagram_account_id": IG_ACCOUNT_ID,
        "max_retries": 2,
    }
    if graph.ca_path:
        settings["ca_bundle"] = graph.ca_path
    settings.update(extra)
    return settings


def fb_comment(
    comment_id: str,
    text: str,
    created: datetime,
    *,
    post_id: str,
    user: str = "3450429531722233",
    parent: str | None = None,
) -> dict[str, Any]:
    ts = int(created.timestamp())
    return {
        "object": "page",
        "entry": [
            {
                "id": META_PAGE_ID,
                "time": ts,
                "changes": [
                    {
                        "field": "feed",
                        "value": {
                            "from": {"id": user, "name": "Susie Example"},
                            "message": text,
                            "post_id": post_id,
                            "comment_id": comment_id,
                            "created_time": ts,
                            "item": "comment",
                            "parent_id": parent or post_id,
                            "verb": "add",
                        },
                    }
                ],
            }
        ],
    }


def dm(obj: str, account: str, mid: str, text: str, sender: str, at: datetime) -> dict[str, Any]:
    ms = int(at.timestamp() * 1000)
    return {
        "object": obj,
        "entry": [
            {
                "id": account,
                "time": ms,
                "messaging": [
                    {
                        "sender": {"id": sender},
                        "recipient": {"id": account},
                        "timestamp": ms,
                        "message": {"mid": mid, "text": text},
                    }
                ],
            }
        ],
    }


def ig_comment(
    comment_id: str, text: str, media_id: str, user: str = "1234567890123456", username: str = "jane.doe"
) -> dict[str, Any]:
    return {
        "object": "instagram",
        "entry": [
            {
                "id": IG_ACCOUNT_ID,
                "time": int(utcnow().timestamp()),
                "changes": [
                    {
                        "field": "comments",
                        "value": {
                            "id": comment_id,
                            "from": {"id": user, "username": username},
                            "text": text,
                            "media": {"id": media_id, "media_product_type": "FEED"},
                        },
                    }
                ],
            }
        ],
    }


def ig_mention(media_id: str, comment_id: str | None) -> dict[str, Any]:
    value: dict[str, Any] = {"media_id": media_id}
    if comment_id:
        value["comment_id"] = comment_id
    return {
        "object": "instagram",
        "entry": [
            {
                "id": IG_ACCOUNT_ID,
                "time": int(utcnow().timestamp()),
                "changes": [{"field": "mentions", "value": value}],
            }
        ],
    }


def write_config(config: Config, path: Path) -> Path:
    """Write ``config`` as a YAML file for CLI tests (secrets revealed: tests only)."""
    import yaml
    from pydantic import BaseModel, SecretStr

    def plain(value: object) -> object:
        if isinstance(value, SecretStr):
            return value.get_secret_value()
        if isinstance(value, BaseModel):
            return {key: plain(item) for key, item in value}
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items()}
        if isinstance(value, list):
            return [plain(item) for item in value]
        return value

    path.write_text(yaml.safe_dump(plain(config)), encoding="utf-8")
    return path
