"""Test helpers: load payload fixtures and POST them correctly signed, so no test computes an HMAC."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from connector.model import InboundBatch, Interaction
from connector.schema import audit_log, interactions, outbox, raw_events
from connector.store import Store
from tests.conftest import GENERIC_SECRET, GENERIC_SOURCE, META_APP_SECRET, X_BRAND_IDS, X_CONSUMER_SECRET
from webhooks.signatures import sign_meta, sign_standard_webhook, sign_x

FIXTURES = Path(__file__).parent / "fixtures"
JSON = "application/json"


def fixture_names(platform: str) -> set[str]:
    """The fixture files of a platform, without the ``.json`` suffix."""
    return {path.stem for path in (FIXTURES / platform).glob("*.json")}


def fixture_bytes(platform: str, name: str) -> bytes:
    """The exact bytes of a fixture: what the platform sent, and what is signed."""
    return (FIXTURES / platform / f"{name}.json").read_bytes()


def fixture_json(platform: str, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(fixture_bytes(platform, name))
    return data


def compact(payload: Any) -> bytes:
    """Serialise like Meta does: compact, non-ASCII escaped."""
    return json.dumps(payload, separators=(",", ":")).encode("ascii")


def post_meta(
    client: FlaskClient,
    body: bytes,
    *,
    secret: str = META_APP_SECRET,
    headers: dict[str, str] | None = None,
    content_type: str = JSON,
) -> TestResponse:
    """POST ``body`` to the Meta endpoint, signed with ``secret`` unless ``headers`` are given."""
    sent = sign_meta(body, secret) if headers is None else headers
    return client.post("/webhooks/meta", data=body, headers=sent, content_type=content_type)


def post_x(
    client: FlaskClient,
    body: bytes,
    *,
    secret: str = X_CONSUMER_SECRET,
    headers: dict[str, str] | None = None,
    content_type: str = JSON,
) -> TestResponse:
    sent = sign_x(body, secret) if headers is None else headers
    return client.post("/webhooks/x", data=body, headers=sent, content_type=content_type)


def post_generic(
    client: FlaskClient,
    body: bytes,
    *,
    source: str = GENERIC_SOURCE,
    secret: str = GENERIC_SECRET,
    msg_id: str = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
    timestamp: int | None = None,
    headers: dict[str, str] | None = None,
    content_type: str = JSON,
) -> TestResponse:
    sent = sign_standard_webhook(body, secret, msg_id, timestamp) if headers is None else headers
    return client.post(f"/webhooks/generic/{source}", data=body, headers=sent, content_type=content_type)


def raw_event_count(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(raw_events)).scalar_one())


def interaction_rows(store: Store) -> list[dict[str, Any]]:
    """Every stored interaction, oldest first, as plain dicts."""
    with store.engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(select(interactions).order_by(interactions.c.id))]


def outbox_refs(store: Store) -> list[int]:
    """The interaction ids that have a processing job."""
    with store.engine.connect() as conn:
        return [int(row.ref_id) for row in conn.execute(select(outbox.c.ref_id).order_by(outbox.c.id))]


def raw_event_rows(store: Store) -> list[dict[str, Any]]:
    with store.engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(select(raw_events).order_by(raw_events.c.id))]


def audit_actions(store: Store) -> list[tuple[str, str]]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(audit_log.c.action, audit_log.c.subject).order_by(audit_log.c.id))
        return [(row.action, row.subject) for row in rows]


def summarize(item: Interaction) -> dict[str, Any]:
    """An interaction as a dict for expectation tables: ``raw`` left out, unset optional fields dropped."""
    author = {k: v for k, v in asdict(item.author).items() if v is not None and v is not False}
    summary: dict[str, Any] = {
        "platform": item.platform,
        "kind": item.kind,
        "external_id": item.external_id,
        "thread_key": item.thread_key,
        "brand_account_id": item.brand_account_id,
        "author": author,
        "text": item.text,
        "created_at": item.created_at.isoformat(),
        "from_brand": item.from_brand,
    }
    for optional in ("parent_external_id", "language", "permalink"):
        value = getattr(item, optional)
        if value is not None:
            summary[optional] = value
    return summary


def summarize_batch(batch: InboundBatch) -> dict[str, Any]:
    """A whole batch as plain data, so each fixture's expectation is one literal."""
    return {
        "interactions": [summarize(i) for i in batch.interactions],
        "edits": [summarize(i) for i in batch.edits],
        "removals": [(r.platform, r.external_id, r.occurred_at.isoformat()) for r in batch.removals],
        "ignored": list(batch.ignored),
    }


def x_delivery(
    tweet_id: str, text: str, user_id: str, screen_name: str, reply_to: str | None = None
) -> bytes:
    """An X Account Activity delivery with one tweet to the brand."""
    return compact(
        {
            "for_user_id": X_BRAND_IDS[0],
            "tweet_create_events": [
                {
                    "created_at": "Mon Nov 23 09:30:00 +0000 2026",
                    "id_str": tweet_id,
                    "text": text,
                    "in_reply_to_status_id_str": reply_to,
                    "in_reply_to_user_id_str": X_BRAND_IDS[0],
                    "user": {"id_str": user_id, "name": f"{screen_name} name", "screen_name": screen_name},
                    "lang": "en",
                    "timestamp_ms": str(1795426200000 + int(tweet_id[-3:]) * 1000),
                }
            ],
        }
    )
