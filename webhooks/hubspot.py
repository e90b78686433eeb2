"""HubSpot webhooks: ticket stage changes back from the desk, verified and stored before the 200."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from connector.model import StatusChange, from_unix
from webhooks.app import AppState, app_state
from webhooks.errors import MalformedPayloadError
from webhooks.hubspot_signature import verify_hubspot_signature
from webhooks.request_body import read_raw_body, require_json_content_type

blueprint = Blueprint("hubspot", __name__)
log = logging.getLogger("ventanilla.webhooks.hubspot")
SYSTEM = "hubspot"
MAX_EVENTS = 1000  # HubSpot sends fewer than 100; anything far above is not HubSpot
TICKET_CHANGES = frozenset({"ticket.propertyChange", "object.propertyChange"})
TICKET_OBJECT_TYPE = "0-5"  # generic "object.*" subscriptions name tickets by type id
# Ids and epoch milliseconds fit; anything larger is not HubSpot (and would overflow dates).
MAX_INTEGER = 2**53


@dataclass(frozen=True, slots=True)
class Verification:
    secrets: list[str]
    versions: list[str]
    webhook_url: str | None


def _verification(state: AppState) -> Verification:
    """Client secrets (and accepted versions) of every HubSpot connection a desk uses."""
    secrets: list[str] = []
    versions: set[str] = set()
    url = None
    for desk in state.config.desks:
        if desk.connector != SYSTEM:
            continue
        settings = state.config.connections.get(desk.connection or SYSTEM, {})
        secret = settings.get("client_secret")
        if isinstance(secret, str) and secret:
            secrets.append(secret)
        versions.update(settings.get("signature_versions") or ["v3"])
        url = url or settings.get("webhook_url")
    return Verification(secrets, sorted(versions), url)


@blueprint.post("/webhooks/hubspot")
def receive() -> ResponseReturnValue:
    """Verify the signature on the raw body and URI, then store every ticket stage change."""
    state = app_state()
    require_json_content_type(request)
    body = read_raw_body(request, state.config.limits.max_body_bytes)
    check = _verification(state)
    uri = _public_uri(check.webhook_url)
    verify_hubspot_signature(body, dict(request.headers), request.method, uri, check.secrets, check.versions)
    events = _parse_events(body)
    changes, ignored = [], 0
    for event in events:
        change = _status_change(state, event)
        if change is None:
            ignored += 1
        else:
            changes.append(change)
    new = state.store.record_status_delivery(
        "hubspot", body, dict(request.headers), changes, {"events": len(events), "ignored": ignored}
    )
    log.info("hubspot delivery: %d event(s), %d new status change(s), %d ignored", len(events), new, ignored)
    return jsonify({"status": "ok", "new": new, "duplicates": len(changes) - new}), 200


def _public_uri(configured: str | None) -> str:
    """The URI HubSpot called: the configured public URL (behind a proxy) or ours, plus the query."""
    base = configured.rstrip("?") if configured else request.base_url
    query = request.query_string.decode("latin-1")
    return f"{base}?{query}" if query else base


def _parse_events(body: bytes) -> list[dict[str, Any]]:
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise MalformedPayloadError(f"body is not valid JSON: {exc}") from None
    if not isinstance(data, list):
        raise MalformedPayloadError("body must be a JSON array of events")
    if len(data) > MAX_EVENTS:
        raise MalformedPayloadError(f"{len(data)} events; at most {MAX_EVENTS} are accepted")
    for index, event in enumerate(data):
        if not isinstance(event, dict):
            raise MalformedPayloadError(f"[{index}]: expected an object")
        for key in ("eventId", "objectId", "occurredAt"):
            value = event.get(key)
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < MAX_INTEGER:
                raise MalformedPayloadError(f"[{index}].{key}: expected a non-negative integer")
        if not isinstance(event.get("subscriptionType", event.get("eventType")), str):
            raise MalformedPayloadError(f"[{index}].subscriptionType: expected a string")
    return data


def _status_change(state: AppState, event: dict[str, Any]) -> tuple[str, StatusChange] | None:
    """A stage change of one of our tickets, as (desk, change); None for anything else."""
    kind = event.get("subscriptionType", event.get("eventType"))
    if kind not in TICKET_CHANGES:
        return None
    if kind == "object.propertyChange" and str(event.get("objectTypeId")) != TICKET_OBJECT_TYPE:
        return None
    ticket_id = str(event["objectId"])
    link = state.store.link_for_ticket(SYSTEM, ticket_id)
    if link is None:
        return None
    mapping = state.mapping(link.desk)
    status_field = mapping.target.status_field if mapping.target else "hs_pipeline_stage"
    if event.get("propertyName") != status_field:
        return None
    ours = mapping.status_for(str(event.get("propertyValue")))
    if ours is None:
        log.warning(
            "ticket %s: stage %r is not in the %s mapping's status_map",
            ticket_id,
            event.get("propertyValue"),
            link.desk,
        )
        return None
    # eventId alone is not guaranteed unique (protocols.md 0.3): with objectId and occurredAt it is.
    event_id = f"{event['eventId']}:{ticket_id}:{event['occurredAt']}"
    occurred = from_unix(event["occurredAt"] / 1000)
    return link.desk, StatusChange(SYSTEM, ticket_id, None, ours, None, occurred, event_id)
