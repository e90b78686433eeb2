"""Record what would be posted, without calling any platform (the embedded default)."""

from __future__ import annotations

import logging

from connector.model import Interaction
from connector.store import Reply

log = logging.getLogger("ventanilla.publish")


class DryRunPublisher:
    """Posts nothing; the reply row in the store is the record of what would be said."""

    mode = "dry-run"

    def publish(self, reply: Reply, in_reply_to: Interaction) -> str:
        log.info(
            "dry-run reply %s on %s to %s (%s): %d characters",
            reply.id,
            reply.platform,
            in_reply_to.external_id,
            reply.channel,
            len(reply.text),
        )
        return f"dry-run-{reply.id}"

    def find_posted(self, reply: Reply, in_reply_to: Interaction) -> str | None:
        """Nothing was ever sent anywhere, so recording it again is harmless."""
        return None
