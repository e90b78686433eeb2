"""Meta Graph emulator: the objects it holds, Graph's error bodies, and its time formats.

Kept apart from the routing so tests (and the emulator's seeding methods) share one model of
Pages posts and comments, Instagram media and comments, mentions, and Messenger/Instagram
conversations.
"""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


class GraphError(Exception):
    """An error the Graph API answers with ``{"error": {...}}`` (HTTP 400 unless noted)."""

    def __init__(
        self,
        code: int,
        message: str,
        subcode: int | None = None,
        status: int = 400,
        error_type: str = "OAuthException",
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.subcode = subcode
        self.status = status
        self.error_type = error_type

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.subcode, self.error_type)


def error_body(
    code: int, message: str, subcode: int | None = None, error_type: str = "OAuthException"
) -> dict[str, Any]:
    """Graph's error envelope; ``fbtrace_id`` differs per answer, as on the real API."""
    error: dict[str, Any] = {"message": message, "type": error_type, "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    error["fbtrace_id"] = "A" + secrets.token_urlsafe(16)
    return {"error": error}


def unknown_object(object_id: str, method: str) -> GraphError:
    return GraphError(
        100,
        f"Unsupported {method.lower()} request. Object with ID '{object_id}' does not exist, cannot be "
        "loaded due to missing permissions, or does not support this operation. Please read the Graph "
        "API documentation at https://developers.facebook.com/docs/graph-api",
        subcode=33,
        error_type="GraphMethodException",
    )


def unsupported(method: str) -> GraphError:
    return GraphError(100, f"Unsupported {method.lower()} request.", error_type="GraphMethodException")


def invalid_param(message: str, subcode: int | None = None) -> GraphError:
    return GraphError(100, f"(#100) {message}", subcode)


def graph_time(moment: datetime) -> str:
    """Graph's timestamp format: ``2025-03-17T12:00:00+0000`` (always UTC)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def parse_time(value: str, name: str) -> datetime:
    """``since``/``until``: unix seconds or an ISO 8601 time (naive means UTC)."""
    text = value.strip()
    try:
        return datetime.fromtimestamp(float(text), UTC)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise invalid_param(f"The parameter {name} is not a valid time: {value}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass
class FbPost:
    id: str
    created_time: datetime
    message: str
    permalink_url: str
    from_id: str
    from_name: str
    updated_time: datetime
    privately_replied: bool = False  # visitor posts can get one private reply, like comments


@dataclass
class FbComment:
    id: str
    post_id: str
    from_id: str
    from_name: str
    message: str
    created_time: datetime
    parent_id: str | None = None  # a comment id for a reply, None for a top-level comment
    is_hidden: bool = False
    privately_replied: bool = False


@dataclass
class IgMedia:
    id: str
    timestamp: datetime
    caption: str
    permalink: str
    username: str
    owned: bool  # False: someone else's media that @mentions us
    media_type: str = "IMAGE"
    like_count: int = 0


@dataclass
class IgComment:
    id: str
    media_id: str
    from_id: str
    username: str
    text: str
    timestamp: datetime
    parent_id: str | None = None
    hidden: bool = False
    like_count: int = 0
    privately_replied: bool = False


@dataclass
class IgAccount:
    """A business or creator account other than ours, visible to business_discovery."""

    id: str
    username: str
    followers_count: int
    media_count: int
    name: str


@dataclass
class ConversationMessage:
    id: str
    text: str
    from_id: str
    created_time: datetime
    platform: str  # of the conversation it belongs to
    user_id: str  # the person on the other side of that conversation


@dataclass
class Conversation:
    id: str
    platform: str  # "messenger" or "instagram"
    user_id: str
    messages: list[ConversationMessage] = field(default_factory=list)


@dataclass
class MessagingUser:
    """A PSID (messenger) or IGSID (instagram) that has written to us at least once."""

    platform: str
    user_id: str
    last_message_at: datetime


class GraphStore:
    """Everything the emulated Page and Instagram account can see (guarded by the emulator's lock)."""

    def __init__(self, page_id: str, ig_user_id: str, page_name: str, ig_username: str) -> None:
        self.page_id = page_id
        self.ig_user_id = ig_user_id
        self.page_name = page_name
        self.ig_username = ig_username
        self.posts: dict[str, FbPost] = {}
        self.comments: dict[str, FbComment] = {}
        self.media: dict[str, IgMedia] = {}
        self.ig_comments: dict[str, IgComment] = {}
        self.mentioned_comments: dict[str, IgComment] = {}
        self.accounts: dict[str, IgAccount] = {}  # lower-case username -> account
        self.users: dict[str, MessagingUser] = {}
        self.conversations: dict[tuple[str, str], Conversation] = {}
        self.posted: list[dict[str, Any]] = []
        self.hidden: dict[str, bool] = {}
        self._serial = itertools.count(1)

    def new_number(self, base: int) -> str:
        """A fresh numeric id; ``base`` sets the id's magnitude (FB ~1e15, IG ~1.79e16)."""
        return str(base + next(self._serial))

    @staticmethod
    def new_message_id() -> str:
        return "m_" + secrets.token_urlsafe(48)

    def conversation(self, platform: str, user_id: str) -> Conversation:
        key = (platform, user_id)
        if key not in self.conversations:
            self.conversations[key] = Conversation(f"t_{self.new_number(10**14)}", platform, user_id)
        return self.conversations[key]

    def sender_id(self, platform: str) -> str:
        """Who our side is in a conversation: the Page (messenger) or the IG account (instagram)."""
        return self.ig_user_id if platform == "instagram" else self.page_id

    def fb_replies(self, comment_id: str) -> list[FbComment]:
        return [c for c in self.comments.values() if c.parent_id == comment_id]

    def ig_replies(self, comment_id: str) -> list[IgComment]:
        return [c for c in self.ig_comments.values() if c.parent_id == comment_id]

    def record(self, kind: str, object_id: str, target: str, text: str, **extra: Any) -> None:
        """Remember one object created through the API, for ``posted()``."""
        self.posted.append(
            {
                "kind": kind,
                "id": object_id,
                "target": target,
                "text": text,
                "messaging_type": extra.get("messaging_type"),
                "tag": extra.get("tag"),
            }
        )
