"""The common tail of every inbound POST: store the verified, parsed delivery and acknowledge it."""

from __future__ import annotations

import logging

from flask import jsonify, request
from flask.typing import ResponseReturnValue

from connector.model import InboundBatch
from webhooks.app import app_state

log = logging.getLogger("ventanilla.webhooks")


def store_and_acknowledge(
    source: str, body: bytes, batch: InboundBatch, delivery_id: str | None = None
) -> ResponseReturnValue:
    """Ingest in one transaction, log the counts, and answer 200 (redeliveries too).

    The platforms retry anything but a 2xx, so a duplicate is acknowledged like a first
    delivery; the store makes sure it is not processed twice.
    """
    result = app_state().store.ingest(source, body, dict(request.headers), batch, delivery_id=delivery_id)
    duplicates = result.duplicates
    if result.duplicate_delivery:
        duplicates = len(batch.interactions) + len(batch.edits)
    # Counts and event types only: never headers, signatures or message text.
    log.info(
        "%s delivery: new=%d duplicates=%d from_brand=%d edited=%d removed=%d ignored=%d%s",
        source,
        result.new,
        duplicates,
        result.from_brand,
        result.edited,
        result.removed,
        len(batch.ignored),
        " (redelivery)" if result.duplicate_delivery else "",
    )
    for reason in batch.ignored:
        log.debug("%s ignored: %r", source, reason)
    return jsonify({"status": "ok", "new": result.new, "duplicates": duplicates}), 200
