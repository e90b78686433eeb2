"""Meta (Facebook Pages, Messenger, Instagram) webhook: the GET handshake and signed POSTs."""

from __future__ import annotations

import hmac
import logging

from flask import Blueprint, request
from flask.typing import ResponseReturnValue

from webhooks.app import app_state
from webhooks.delivery import store_and_acknowledge
from webhooks.errors import HandshakeError, MalformedPayloadError, UnauthorizedError
from webhooks.meta_parse import parse_meta
from webhooks.request_body import parse_json_object, read_raw_body, require_json_content_type
from webhooks.signatures import META_SIGNATURE_HEADER, verify_meta_signature

blueprint = Blueprint("meta", __name__)
log = logging.getLogger("ventanilla.webhooks.meta")


@blueprint.get("/webhooks/meta")
def handshake() -> ResponseReturnValue:
    """Echo ``hub.challenge`` as plain text when Meta presents our verify token; else 403."""
    settings = app_state().config.platforms.meta
    if settings.verify_token is None:
        log.error("Meta handshake refused: platforms.meta.verify_token is not configured")
        raise HandshakeError("verify token is not configured")
    if request.args.get("hub.mode") != "subscribe":
        raise HandshakeError("hub.mode must be 'subscribe'")
    offered = request.args.get("hub.verify_token", "")
    expected = settings.verify_token.get_secret_value()
    if not hmac.compare_digest(offered.encode("utf-8"), expected.encode("utf-8")):
        raise HandshakeError("hub.verify_token does not match")
    challenge = request.args.get("hub.challenge")
    if not challenge:
        raise MalformedPayloadError("hub.challenge is missing")
    # Plain text, no JSON and no quotes; nosniff so the echoed value is never rendered.
    return challenge, 200, {"Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff"}


@blueprint.post("/webhooks/meta")
def receive() -> ResponseReturnValue:
    """Verify ``X-Hub-Signature-256`` on the raw body, then parse, store and acknowledge."""
    config = app_state().config
    settings = config.platforms.meta
    require_json_content_type(request)
    body = read_raw_body(request, config.limits.max_body_bytes)
    if settings.app_secret is None:
        # Without the app secret nothing can be verified: refuse rather than trust anyone.
        log.error("Meta delivery refused: platforms.meta.app_secret is not configured")
        raise UnauthorizedError("Meta app secret is not configured; unsigned deliveries are refused")
    secret = settings.app_secret.get_secret_value()
    verify_meta_signature(body, request.headers.get(META_SIGNATURE_HEADER), secret)
    payload = parse_json_object(body, config.limits.max_json_depth)
    batch = parse_meta(payload, settings.brand_account_ids)
    return store_and_acknowledge("meta", body, batch)
