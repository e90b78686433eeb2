"""The live publisher: one platform publisher per platform, built from ``platforms.*``."""

from __future__ import annotations

from functools import cached_property

from connector.config import Config
from connector.model import Interaction
from connector.publish.base import PermanentPublishError
from connector.publish.facebook import FacebookPublisher
from connector.publish.graph_api import GraphClient
from connector.publish.instagram import InstagramPublisher
from connector.publish.messenger import MessagingPublisher
from connector.publish.x import XPublisher
from connector.publish.x_api import XClient
from connector.store_links import Reply


class PlatformPublisher:
    """Sends each reply to its platform's own publisher."""

    mode = "live"

    def __init__(self, config: Config) -> None:
        self.config = config

    @cached_property
    def graph(self) -> GraphClient:
        return GraphClient(self.config.platforms.meta)

    @cached_property
    def x(self) -> XClient:
        return XClient(self.config.platforms.x)

    def _for(
        self, reply: Reply, target: Interaction
    ) -> FacebookPublisher | InstagramPublisher | MessagingPublisher | XPublisher:
        if target.platform == "x":
            return XPublisher(self.x)
        if target.platform == "messenger" or (
            target.platform == "instagram" and target.kind == "direct_message"
        ):
            return MessagingPublisher(self.graph)
        if target.platform == "facebook":
            return FacebookPublisher(self.graph)
        if target.platform == "instagram":
            return InstagramPublisher(self.graph)
        raise PermanentPublishError(
            f"{target.platform} has no reply API; answer this customer in their own channel"
        )

    def publish(self, reply: Reply, in_reply_to: Interaction) -> str:
        return self._for(reply, in_reply_to).publish(reply, in_reply_to)

    def find_posted(self, reply: Reply, in_reply_to: Interaction) -> str | None:
        return self._for(reply, in_reply_to).find_posted(reply, in_reply_to)
