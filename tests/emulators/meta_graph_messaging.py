"""Meta Graph emulator: the Send API, private replies and the conversations edge.

Enforces the rules that make Meta reject replies in production: the 24-hour standard window,
HUMAN_AGENT (7 days, only with the feature), one private reply per comment or visitor post
within 7 days of it, and the 2000-character text limit.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from tests.emulators.meta_graph_fields import edge, parse_fields
from tests.emulators.meta_graph_nodes import PRIVATE_REPLY_WINDOW, Nodes
from tests.emulators.meta_graph_store import (
    ConversationMessage,
    FbComment,
    FbPost,
    GraphError,
    GraphStore,
    IgComment,
    invalid_param,
    unknown_object,
)

STANDARD_WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)
MESSAGING_TYPES = ("RESPONSE", "UPDATE", "MESSAGE_TAG")
LEGACY_TAGS = ("ACCOUNT_UPDATE", "POST_PURCHASE_UPDATE", "CONFIRMED_EVENT_UPDATE")
MAX_TEXT = 2000


def outside_window() -> GraphError:
    return GraphError(10, "(#10) This message is sent outside of allowed window.", 2018278)


def json_param(params: dict[str, Any], name: str) -> Any:
    """``recipient``/``message`` arrive as JSON objects, or as JSON-encoded strings in a form or query."""
    value = params.get(name)
    if isinstance(value, str) and value.strip().startswith("{"):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise invalid_param(f"param {name} must be a JSON object") from None
    return value


class Messaging:
    """``POST /{page-id|me|ig-user-id}/messages`` and ``GET /{page-id|ig-user-id}/conversations``."""

    def __init__(
        self, store: GraphStore, nodes: Nodes, now: Callable[[], datetime], human_agent: Callable[[], bool]
    ) -> None:
        self.store = store
        self.nodes = nodes
        self.now = now
        self.human_agent = human_agent

    def send(self, owner: str, params: dict[str, Any]) -> dict[str, Any]:
        """``owner`` is "page" (Facebook Login, reaches both platforms) or "instagram" (Instagram Login)."""
        recipient = json_param(params, "recipient")
        if not isinstance(recipient, dict) or not recipient:
            raise invalid_param("param recipient must be non-empty.")
        message = json_param(params, "message")
        text = message.get("text") if isinstance(message, dict) else None
        if not isinstance(text, str) or not text:
            raise invalid_param("Message cannot be empty, must provide valid attachment or text")
        if len(text) > MAX_TEXT:
            raise invalid_param(f"Length of param message[text] must be less than or equal to {MAX_TEXT}")
        if recipient.get("comment_id") or recipient.get("post_id"):
            return self._private_reply(owner, recipient, text)
        if recipient.get("id"):
            return self._send(owner, str(recipient["id"]), text, params)
        raise invalid_param("param recipient must be non-empty.")

    def _deliver(self, platform: str, user_id: str, text: str) -> str:
        message_id = self.store.new_message_id()
        conversation = self.store.conversation(platform, user_id)
        sender = self.store.sender_id(platform)
        conversation.messages.append(
            ConversationMessage(message_id, text, sender, self.now(), platform, user_id)
        )
        return message_id

    def _send(self, owner: str, user_id: str, text: str, params: dict[str, Any]) -> dict[str, Any]:
        messaging_type = str(params.get("messaging_type") or "")
        if messaging_type not in MESSAGING_TYPES:
            raise invalid_param("param messaging_type must be one of {RESPONSE, UPDATE, MESSAGE_TAG}")
        user = self.store.users.get(user_id)
        if user is None or (owner == "instagram" and user.platform != "instagram"):
            raise GraphError(100, "(#100) No matching user found", 2018001)
        age = self.now() - user.last_message_at
        tag = str(params.get("tag") or "") or None
        if messaging_type != "MESSAGE_TAG":
            if age > STANDARD_WINDOW:
                raise outside_window()
        elif tag is None:
            raise invalid_param("param tag must be non-empty when messaging_type is MESSAGE_TAG")
        elif tag == "HUMAN_AGENT":
            if not self.human_agent():
                raise GraphError(
                    200, "(#200) This app does not have permission for the HUMAN_AGENT tag", 2018065, 403
                )
            if age > HUMAN_AGENT_WINDOW:
                raise outside_window()
        elif tag not in LEGACY_TAGS or user.platform == "instagram":
            raise invalid_param(f"param tag is not a valid message tag: {tag}")
        message_id = self._deliver(user.platform, user_id, text)
        self.store.record("message", message_id, user_id, text, messaging_type=messaging_type, tag=tag)
        return {"recipient_id": user_id, "message_id": message_id}

    def _private_reply(self, owner: str, recipient: dict[str, Any], text: str) -> dict[str, Any]:
        target_id = str(recipient.get("comment_id") or recipient.get("post_id"))
        target: FbComment | IgComment | FbPost | None
        if recipient.get("comment_id"):
            target = self.store.ig_comments.get(target_id)
            if target is None and owner == "page":
                target = self.store.comments.get(target_id)
        else:
            target = self.store.posts.get(target_id) if owner == "page" else None
        if target is None:
            raise unknown_object(target_id, "post")
        platform = "instagram" if isinstance(target, IgComment) else "messenger"
        created = target.timestamp if isinstance(target, IgComment) else target.created_time
        if target.from_id in (self.store.page_id, self.store.ig_user_id):
            raise invalid_param("Cannot send a private reply to an object created by the Page itself")
        if target.privately_replied:
            raise invalid_param("This comment has already been replied to privately", 2018108)
        if self.now() - created > PRIVATE_REPLY_WINDOW:
            raise outside_window()
        target.privately_replied = True
        message_id = self._deliver(platform, target.from_id, text)
        self.store.record("private_reply", message_id, target_id, text)
        return {"recipient_id": target.from_id, "message_id": message_id}

    def conversations(self, owner: str, params: dict[str, Any], url: str) -> dict[str, Any]:
        """Conversations with messages, most recently updated first; ``user_id`` narrows to one person."""
        default = "instagram" if owner == "instagram" else "messenger"
        platform = str(params.get("platform") or default)
        if platform not in ("messenger", "instagram") or (owner == "instagram" and platform != "instagram"):
            raise invalid_param("param platform must be one of {MESSENGER, INSTAGRAM}")
        user_id = params.get("user_id")
        found = [
            c
            for c in self.store.conversations.values()
            if c.platform == platform and c.messages and (not user_id or c.user_id == str(user_id))
        ]
        found.sort(key=lambda c: max(m.created_time for m in c.messages), reverse=True)
        specs = parse_fields(params.get("fields"))
        return edge(self.nodes.conversation, found, lambda c: c.id, params, url, specs)
