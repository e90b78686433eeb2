"""Generic inbound endpoint: one canonical interaction per Standard Webhooks delivery."""

from __future__ import annotations

from flask import Blueprint, request
from flask.typing import ResponseReturnValue

from webhooks.app import app_state
from webhooks.delivery import store_and_acknowledge
from webhooks.errors import NotFoundError
from webhooks.generic_parse import parse_generic
from webhooks.request_body import parse_json_object, read_raw_body, require_json_content_type
from webhooks.signatures import verify_standard_webhook

blueprint = Blueprint("generic", __name__)


@blueprint.post("/webhooks/generic/<source>")
def receive(source: str) -> ResponseReturnValue:
    """Verify with the source's own secret; ``webhook-id`` makes redeliveries harmless."""
    config = app_state().config
    settings = config.platforms.generic.sources.get(source)
    if settings is None:
        raise NotFoundError(f"no generic source named {source!r} is configured")
    require_json_content_type(request)
    body = read_raw_body(request, config.limits.max_body_bytes)
    delivery_id = verify_standard_webhook(body, dict(request.headers), settings.secret.get_secret_value())
    payload = parse_json_object(body, config.limits.max_json_depth)
    batch = parse_generic(payload, source)
    return store_and_acknowledge(f"generic:{source}", body, batch, delivery_id=delivery_id)
