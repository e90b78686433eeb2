"""X: a public reply (``POST /2/tweets`` with ``reply.in_reply_to_tweet_id``) or a DM.

protocols.md B.5. X refuses a duplicate tweet (403); after an attempt that may have
gone through, the brand's own timeline tells whether it did.
"""

from __future__ import annotations

from connector.model import Interaction
from connector.publish.base import PermanentPublishError, same_text
from connector.publish.x_api import XApiError, XClient
from connector.store_links import Reply


class XPublisher:
    mode = "live"

    def __init__(self, client: XClient) -> None:
        self.client = client

    def publish(self, reply: Reply, in_reply_to: Interaction) -> str:
        if in_reply_to.kind == "direct_message":
            participant = in_reply_to.author.platform_user_id
            if not participant:
                raise PermanentPublishError("the DM conversation has no customer id to answer")
            answer = self.client.post(
                f"/2/dm_conversations/with/{participant}/messages", {"text": reply.text}
            )
            return str((answer.get("data") or {}).get("dm_event_id") or "")
        body = {"text": reply.text, "reply": {"in_reply_to_tweet_id": in_reply_to.external_id}}
        try:
            answer = self.client.post("/2/tweets", body)
        except XApiError as exc:
            if exc.duplicate and reply.state == "sending":
                found = self.find_posted(reply, in_reply_to)
                if found:
                    return found
            raise
        return str((answer.get("data") or {}).get("id") or "")

    def find_posted(self, reply: Reply, in_reply_to: Interaction) -> str | None:
        me = self.client.user_id
        if in_reply_to.kind == "direct_message":
            answer = self.client.get(
                f"/2/dm_conversations/with/{in_reply_to.author.platform_user_id}/dm_events",
                {"dm_event.fields": "id,text,sender_id,created_at", "max_results": 50},
            )
            for event in answer.get("data") or []:
                if event.get("sender_id") == me and same_text(event.get("text"), reply.text):
                    return str(event.get("id"))
            return None
        answer = self.client.get(
            f"/2/users/{me}/tweets",
            {
                "since_id": in_reply_to.external_id,
                "max_results": 100,
                "tweet.fields": "referenced_tweets,created_at",
            },
        )
        for tweet in answer.get("data") or []:
            replied = {
                ref.get("id")
                for ref in tweet.get("referenced_tweets") or []
                if ref.get("type") == "replied_to"
            }
            if in_reply_to.external_id in replied and same_text(tweet.get("text"), reply.text):
                return str(tweet.get("id"))
        return None
