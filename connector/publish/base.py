"""The contract of a reply publisher, and the outcomes a platform call can have.

A publisher posts one reply and returns the platform's id for it. Failures are typed so
the sync stage can act on them: retry later (rate limit, outage), give up with a clear
outcome on the ticket (window closed, target gone), or never retry (credentials).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Protocol

from connector.model import Interaction
from connector.store_links import Reply


class PublishError(Exception):
    """Posting failed in a way worth retrying (outage, timeout, 5xx)."""


class RateLimitedError(PublishError):
    """The platform asked us to slow down; try again at ``retry_at``."""

    def __init__(self, message: str, retry_at: datetime) -> None:
        super().__init__(message)
        self.retry_at = retry_at


class PermanentPublishError(Exception):
    """The platform refused the reply for good (bad token, deleted target, invalid text)."""


class WindowClosedError(PermanentPublishError):
    """The platform's reply window is over (24 h messaging, 7 days private reply)."""


class Publisher(Protocol):
    mode: str

    def publish(self, reply: Reply, in_reply_to: Interaction) -> str:
        """Post ``reply`` in answer to ``in_reply_to``; return the platform's id for it."""
        ...

    def find_posted(self, reply: Reply, in_reply_to: Interaction) -> str | None:
        """After an attempt that may have reached the platform: the id of that reply, if it is there.

        Raises :class:`PublishError` when the platform cannot tell (the caller must not
        post again blindly).
        """
        ...


class UnverifiableError(PermanentPublishError):
    """The platform offers no way to tell whether an earlier attempt was posted."""


_URLS = re.compile(r"https?://\S+")


def same_text(posted: str | None, ours: str) -> bool:
    """Compare a text read back from a platform with ours (spacing and shortened links differ)."""
    if posted is None:
        return False

    def normal(text: str) -> str:
        return " ".join(_URLS.sub("<url>", text).split()).casefold()

    return normal(posted) == normal(ours)
