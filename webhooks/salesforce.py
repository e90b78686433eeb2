"""Salesforce Outbound Messages: Case status back from the desk, acknowledged only once stored."""

from __future__ import annotations

import hmac
import logging

from flask import Blueprint, request
from flask.typing import ResponseReturnValue

from connector.model import StatusChange, utcnow
from webhooks.app import AppState, app_state
from webhooks.errors import UnauthorizedError, UnsupportedMediaTypeError
from webhooks.request_body import read_raw_body
from webhooks.salesforce_parse import ACK, Notification, parse_outbound_message

blueprint = Blueprint("salesforce", __name__)
log = logging.getLogger("ventanilla.webhooks.salesforce")
SYSTEM = "salesforce"
XML_TYPES = frozenset({"text/xml", "application/xml", "application/soap+xml"})


def _organization_ids(state: AppState) -> list[str]:
    """Org ids of every Salesforce connection a desk uses (there is no HMAC: the org id is the check)."""
    ids = []
    for desk in state.config.desks:
        if desk.connector == SYSTEM:
            settings = state.config.connections.get(desk.connection or SYSTEM, {})
            org = settings.get("organization_id")
            if isinstance(org, str) and org:
                ids.append(org)
    return ids


def _same_org(received: str, configured: str) -> bool:
    # 15- and 18-character forms of one id share their first 15 (case-sensitive) characters.
    return hmac.compare_digest(received[:15].encode(), configured[:15].encode())


@blueprint.post("/webhooks/salesforce/outbound")
def outbound() -> ResponseReturnValue:
    """Turn each notification into a status change, store them all, then answer the Ack."""
    state = app_state()
    if (request.mimetype or "").lower() not in XML_TYPES:
        raise UnsupportedMediaTypeError(
            f"expected Content-Type text/xml, got {request.content_type or 'none'}"
        )
    body = read_raw_body(request, state.config.limits.max_body_bytes)
    message = parse_outbound_message(body)
    configured = _organization_ids(state)
    if not configured:
        log.error("outbound message refused: no Salesforce desk has connections.<name>.organization_id")
        raise UnauthorizedError("no Salesforce organization is configured; outbound messages are refused")
    if not any(_same_org(message.organization_id, org) for org in configured):
        raise UnauthorizedError("OrganizationId does not match the configured Salesforce organization")
    changes, skipped = [], []
    for notification in message.notifications:
        change = _status_change(state, notification)
        if change is None:
            skipped.append(notification.notification_id)
        else:
            changes.append(change)
    new = state.store.record_status_delivery(
        "salesforce:outbound",
        body,
        dict(request.headers),
        changes,
        {"action_id": message.action_id, "notifications": len(message.notifications), "skipped": skipped},
    )
    log.info(
        "salesforce outbound: %d notification(s), %d new status change(s), %d not ours",
        len(message.notifications),
        new,
        len(skipped),
    )
    return ACK, 200, {"Content-Type": "text/xml; charset=utf-8"}


def _status_change(state: AppState, notification: Notification) -> tuple[str, StatusChange] | None:
    """Map one Case notification to (desk, change); None for records no thread of ours owns."""
    case_id = notification.fields.get("Id") or ""
    link = state.store.link_for_ticket(SYSTEM, case_id)
    if link is None:
        return None
    mapping = state.mapping(link.desk)
    status_field = mapping.target.status_field if mapping.target else "Status"
    desk_status = notification.fields.get(status_field)
    ours = mapping.status_for(desk_status) if desk_status is not None else None
    if ours is None:
        log.warning(
            "Case %s: status %r is not in the %s mapping's status_map", case_id, desk_status, link.desk
        )
        return None
    number = notification.fields.get(mapping.target.number_field if mapping.target else "CaseNumber")
    if number and not link.ticket_number:
        state.store.set_link_number(SYSTEM, case_id, number)  # saves a call when the reply is written
    change = StatusChange(SYSTEM, case_id, None, ours, None, utcnow(), notification.notification_id)
    return link.desk, change
