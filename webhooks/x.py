"""X Account Activity API webhook: the CRC challenge and signed POSTs."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from webhooks.app import app_state
from webhooks.delivery import store_and_acknowledge
from webhooks.errors import MalformedPayloadError, UnauthorizedError
from webhooks.request_body import parse_json_object, read_raw_body, require_json_content_type
from webhooks.signatures import X_SIGNATURE_HEADER, verify_x_signature, x_crc_response_token
from webhooks.x_parse import parse_x

blueprint = Blueprint("x", __name__)
log = logging.getLogger("ventanilla.webhooks.x")


def _consumer_secret() -> str:
    secret = app_state().config.platforms.x.consumer_secret
    if secret is None:
        log.error("X request refused: platforms.x.consumer_secret is not configured")
        raise UnauthorizedError("X consumer secret is not configured; requests are refused")
    return secret.get_secret_value()


@blueprint.get("/webhooks/x")
def crc_check() -> ResponseReturnValue:
    """Answer X's CRC: prove we hold the consumer secret by signing ``crc_token``."""
    crc_token = request.args.get("crc_token")
    if not crc_token:
        raise MalformedPayloadError("crc_token query parameter is required")
    return jsonify({"response_token": x_crc_response_token(crc_token, _consumer_secret())})


@blueprint.post("/webhooks/x")
def receive() -> ResponseReturnValue:
    """Verify ``x-twitter-webhooks-signature`` on the raw body, then parse, store and acknowledge."""
    config = app_state().config
    require_json_content_type(request)
    body = read_raw_body(request, config.limits.max_body_bytes)
    verify_x_signature(body, request.headers.get(X_SIGNATURE_HEADER), _consumer_secret())
    payload = parse_json_object(body, config.limits.max_json_depth)
    batch = parse_x(payload, config.platforms.x.brand_user_ids)
    return store_and_acknowledge("x", body, batch)
