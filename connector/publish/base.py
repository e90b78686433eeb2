"""The contract of a reply publisher: post one reply on the platform, return its id."""

from __future__ import annotations

from typing import Protocol

from connector.model import Interaction
from connector.store import Reply


class PublishError(Exception):
    """Posting failed in a way worth retrying."""


class Publisher(Protocol):
    mode: str

    def publish(self, reply: Reply, in_reply_to: Interaction) -> str:
        """Post ``reply`` in answer to ``in_reply_to``; return the platform's id for it."""
        ...
