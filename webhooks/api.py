"""A small JSON API for operators and the local desk, protected by a bearer token."""

from __future__ import annotations

import hmac
from dataclasses import asdict
from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from connector.crm.local import TicketNotFoundError, TicketStateError, list_local_tickets, resolve_ticket
from webhooks.app import app_state
from webhooks.errors import ConflictError, MalformedPayloadError, NotFoundError, UnauthorizedError

blueprint = Blueprint("api", __name__, url_prefix="/api")
MAX_NOTE_CHARS = 10_000


@blueprint.before_request
def _require_token() -> None:
    configured = app_state().config.api.token
    if configured is None:
        raise UnauthorizedError("the API is disabled: set api.token in the configuration")
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise UnauthorizedError("send Authorization: Bearer <api.token>")
    if not hmac.compare_digest(token.encode(), configured.get_secret_value().encode()):
        raise UnauthorizedError("the bearer token is not valid")


@blueprint.get("/tickets")
def tickets() -> ResponseReturnValue:
    """List local-desk tickets."""
    return jsonify(list_local_tickets(app_state().store, request.args.get("desk")))


def _json_body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise MalformedPayloadError("send a JSON object with Content-Type application/json")
    return data


@blueprint.post("/tickets/<ticket_id>/resolve")
def resolve(ticket_id: str) -> ResponseReturnValue:
    """Resolve or close a local ticket; its reply is queued in the same transaction."""
    data = _json_body()
    note = data.get("note")
    status = data.get("status", "resolved")
    public_reply = data.get("public_reply")
    if not isinstance(note, str) or not note.strip() or len(note) > MAX_NOTE_CHARS:
        raise MalformedPayloadError(f"note must be a non-empty string of at most {MAX_NOTE_CHARS} characters")
    if status not in ("resolved", "closed"):
        raise MalformedPayloadError("status must be 'resolved' or 'closed'")
    if public_reply is not None and (not isinstance(public_reply, str) or len(public_reply) > MAX_NOTE_CHARS):
        raise MalformedPayloadError("public_reply must be a string")
    try:
        change_id = resolve_ticket(app_state().store, ticket_id, note, status, public_reply)
    except TicketNotFoundError as exc:
        raise NotFoundError(str(exc)) from None
    except TicketStateError as exc:
        raise ConflictError(str(exc)) from None
    return jsonify({"ticket_id": ticket_id, "status": status, "status_change_id": change_id})


@blueprint.get("/replies")
def replies() -> ResponseReturnValue:
    """List replies recorded by the sync step (posted, dry-run or blocked)."""
    return jsonify([asdict(reply) for reply in app_state().store.list_replies()])
