"""Messenger and Instagram direct messages through the Send API, and private replies.

A DM may be answered with ``messaging_type: RESPONSE`` for 24 hours after the customer's
last message; after that only with the ``HUMAN_AGENT`` tag (7 days, where the Page has
the feature); after that the window is closed and the ticket says so — no retry loop.
A private reply (``recipient.comment_id``) is allowed once per comment within 7 days.
protocols.md A.8 (b), (d), (e).
"""

from __future__ import annotations

from datetime import timedelta

from connector.config import MetaSettings
from connector.model import Interaction, utcnow
from connector.publish.base import PermanentPublishError, WindowClosedError, same_text
from connector.publish.graph_api import GraphClient, GraphError
from connector.store_links import Reply

STANDARD_WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)
PRIVATE_REPLY_WINDOW = timedelta(days=7)
ALREADY_REPLIED_SUBCODES = frozenset({2018108})


def messages_path(settings: MetaSettings, item: Interaction) -> tuple[str, bool]:
    """Where the Send API lives for ``item``'s account, and whether it takes the Instagram token."""
    if item.platform == "instagram":
        if settings.instagram_login:
            return f"{item.brand_account_id}/messages", True
        if settings.page_id:  # Facebook Login: the Page linked to the Instagram account sends
            return f"{settings.page_id}/messages", False
        return f"{item.brand_account_id}/messages", False
    return f"{item.brand_account_id}/messages", False


def private_reply_open(comment: Interaction) -> bool:
    """Meta allows one private reply per comment, within 7 days of the comment."""
    return utcnow() - comment.created_at <= PRIVATE_REPLY_WINDOW


class MessagingPublisher:
    """Answers a Messenger or Instagram DM thread, inside Meta's messaging windows."""

    mode = "live"

    def __init__(self, graph: GraphClient) -> None:
        self.graph = graph

    def publish(self, reply: Reply, in_reply_to: Interaction) -> str:
        recipient = in_reply_to.author.platform_user_id
        if not recipient:
            raise PermanentPublishError("the conversation has no customer id to answer")
        age = utcnow() - in_reply_to.created_at
        body: dict[str, object] = {"recipient": {"id": recipient}, "message": {"text": reply.text}}
        if age <= STANDARD_WINDOW:
            body["messaging_type"] = "RESPONSE"
        elif self.graph.settings.human_agent and age <= HUMAN_AGENT_WINDOW:
            body.update(messaging_type="MESSAGE_TAG", tag="HUMAN_AGENT")
        else:
            hours = int(age.total_seconds() // 3600)
            raise WindowClosedError(
                f"the customer's last message is {hours} h old: Meta allows replies for 24 h"
                + (" (7 days with the Human Agent tag)" if self.graph.settings.human_agent else "")
            )
        path, instagram = messages_path(self.graph.settings, in_reply_to)
        answer = self.graph.post(path, json_body=body, instagram=instagram)
        return str(answer.get("message_id") or "")

    def find_posted(self, reply: Reply, in_reply_to: Interaction) -> str | None:
        """Look for our message in the conversation with this customer."""
        path, instagram = messages_path(self.graph.settings, in_reply_to)
        owner = path.split("/", 1)[0]
        answer = self.graph.get(
            f"{owner}/conversations",
            {
                "platform": "instagram" if in_reply_to.platform == "instagram" else "messenger",
                "user_id": in_reply_to.author.platform_user_id,
                "fields": "messages.limit(25){id,message,from,created_time}",
            },
            instagram=instagram,
        )
        customer = in_reply_to.author.platform_user_id
        for conversation in answer.get("data") or []:
            for message in (conversation.get("messages") or {}).get("data") or []:
                sender = (message.get("from") or {}).get("id")
                if sender != customer and same_text(message.get("message"), reply.text):
                    return str(message.get("id"))
        return None


def send_private_reply(graph: GraphClient, reply: Reply, comment: Interaction) -> str:
    """Send the one private reply Meta allows for a comment; return its message id.

    When Meta says the comment already has its private reply and our previous attempt
    may have sent it (state ``sending``), that earlier attempt is the reply.
    """
    if not private_reply_open(comment):
        raise WindowClosedError("private replies are allowed within 7 days of the comment")
    path, instagram = messages_path(graph.settings, comment)
    body = {"recipient": {"comment_id": comment.external_id}, "message": {"text": reply.text}}
    try:
        answer = graph.post(path, json_body=body, instagram=instagram)
    except GraphError as exc:
        already = exc.subcode in ALREADY_REPLIED_SUBCODES or "already" in str(exc).lower()
        if already and reply.state == "sending":
            return f"private-reply:{comment.external_id}"
        if already:
            raise WindowClosedError("the comment already has its one private reply") from None
        raise
    return str(answer.get("message_id") or "")
