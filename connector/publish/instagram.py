"""Instagram comments and mentions: public replies, or Meta's private reply to a comment.

protocols.md A.8 (c), (d) and A.5: a comment gets ``POST /{ig-comment-id}/replies``; a
mention (a comment or caption on someone else's media) gets ``POST /{ig-user-id}/mentions``.
"""

from __future__ import annotations

from connector.model import Interaction
from connector.publish.base import UnverifiableError, same_text
from connector.publish.graph_api import GraphClient
from connector.publish.messenger import send_private_reply
from connector.store_links import Reply


class InstagramPublisher:
    mode = "live"

    def __init__(self, graph: GraphClient) -> None:
        self.graph = graph

    def publish(self, reply: Reply, in_reply_to: Interaction) -> str:
        if reply.channel == "private_reply":
            return send_private_reply(self.graph, reply, in_reply_to)
        if in_reply_to.kind == "mention":
            return self._reply_to_mention(reply, in_reply_to)
        # Documented with the message in the query string (protocols.md A.8 c).
        answer = self.graph.post(
            f"{in_reply_to.external_id}/replies", params={"message": reply.text}, instagram=True
        )
        return str(answer.get("id") or "")

    def _reply_to_mention(self, reply: Reply, mention: Interaction) -> str:
        media_id = str(mention.raw.get("media_id") or mention.parent_external_id or mention.external_id)
        params = {"media_id": media_id, "message": reply.text}
        comment_id = mention.raw.get("comment_id")
        if comment_id:
            params["comment_id"] = str(comment_id)
        answer = self.graph.post(f"{mention.brand_account_id}/mentions", params=params, instagram=True)
        return str(answer.get("id") or "")

    def find_posted(self, reply: Reply, in_reply_to: Interaction) -> str | None:
        if reply.channel == "private_reply":
            return None  # Meta refuses a second private reply; send_private_reply reads that refusal
        if in_reply_to.kind == "mention":
            raise UnverifiableError("Instagram offers no way to list our replies on someone else's media")
        # Replies to a reply are attached to the top-level comment.
        places = [in_reply_to.external_id]
        if in_reply_to.parent_external_id:
            places.append(in_reply_to.parent_external_id)
        for place in places:
            for comment in self.graph.pages(
                f"{place}/replies",
                {"fields": "id,text,from,username,timestamp", "limit": 100},
                max_items=500,
                instagram=True,
            ):
                author = (comment.get("from") or {}).get("id")
                if author == in_reply_to.brand_account_id and same_text(comment.get("text"), reply.text):
                    return str(comment.get("id"))
        return None
