"""Facebook Page comments: a public reply under the comment, or Meta's private reply.

protocols.md A.8 (a) and (b). Facebook keeps replies one level deep, so a reply to a
reply shows up under the top-level comment; a check after a crash looks in both places.
"""

from __future__ import annotations

from connector.model import Interaction
from connector.publish.base import same_text
from connector.publish.graph_api import GraphClient
from connector.publish.messenger import send_private_reply
from connector.store_links import Reply


class FacebookPublisher:
    mode = "live"

    def __init__(self, graph: GraphClient) -> None:
        self.graph = graph

    def publish(self, reply: Reply, in_reply_to: Interaction) -> str:
        if reply.channel == "private_reply":
            return send_private_reply(self.graph, reply, in_reply_to)
        answer = self.graph.post(f"{in_reply_to.external_id}/comments", data={"message": reply.text})
        return str(answer.get("id") or "")

    def find_posted(self, reply: Reply, in_reply_to: Interaction) -> str | None:
        if reply.channel == "private_reply":
            return None  # Meta refuses a second private reply; send_private_reply reads that refusal
        for parent in _places(in_reply_to):
            for comment in self.graph.pages(
                f"{parent}/comments",
                {
                    "fields": "id,message,from,created_time",
                    "filter": "stream",
                    "order": "reverse_chronological",
                    "limit": 100,
                },
                max_items=500,
            ):
                author = (comment.get("from") or {}).get("id")
                if author == in_reply_to.brand_account_id and same_text(comment.get("message"), reply.text):
                    return str(comment.get("id"))
        return None


def _places(comment: Interaction) -> list[str]:
    """The comment itself, and its top-level parent when it is a reply to a comment."""
    post_id = comment.thread_key.rsplit(":", 1)[-1]
    parent = comment.parent_external_id
    return [comment.external_id] + ([parent] if parent and parent != post_id else [])
