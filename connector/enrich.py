"""Fill in what a webhook does not carry, before triage: mention text and author reach.

Instagram ``mentions`` deliveries have ids only: the text (and who wrote it) is fetched
with ``mentioned_comment`` / ``mentioned_media``. An Instagram commenter's followers come
from ``business_discovery`` where the account is a business or creator account; for
everyone else reach stays unknown rather than guessed. X sends followers in the payload;
Facebook and Messenger expose none. Lookups are cached in ``connector_state``.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta
from typing import Any

from connector.model import Author, Interaction, parse_datetime, utcnow
from connector.publish.base import PermanentPublishError
from connector.publish.graph_api import GraphClient, GraphError
from connector.runtime import Runtime

log = logging.getLogger("ventanilla.enrich")
FOLLOWERS_SCOPE = "instagram_followers"
FOLLOWERS_TTL = timedelta(days=7)
COMMENT_FIELDS = "id,text,timestamp,username,like_count,media{id,permalink,username}"
MEDIA_FIELDS = "id,caption,timestamp,username,permalink,media_type"


class Enricher:
    """Completes Instagram interactions from the Graph API when a token is configured."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        meta = runtime.config.platforms.meta
        self.enabled = (meta.instagram_access_token or meta.page_access_token) is not None
        self._graph: GraphClient | None = None

    @property
    def graph(self) -> GraphClient:
        if self._graph is None:
            self._graph = GraphClient(self.runtime.config.platforms.meta)
        return self._graph

    def enrich(self, item: Interaction) -> Interaction:
        """Return ``item`` completed and stored; unchanged when nothing is missing or allowed.

        Transient failures (outage, rate limit) propagate so the job is retried; a lookup
        Meta refuses for good leaves the interaction as it came, with a log line.
        """
        if not self.enabled or item.platform != "instagram" or item.from_brand:
            return item
        enriched = item
        try:
            if item.kind == "mention" and not item.text:
                enriched = self._mention(item)
            if enriched.author.handle and enriched.author.followers_count is None:
                enriched = replace(
                    enriched, author=self._with_followers(enriched.author, item.brand_account_id)
                )
        except PermanentPublishError as exc:
            log.warning("could not complete instagram %s %s: %s", item.kind, item.external_id, exc)
        if enriched != item:
            self.runtime.store.enrich_interaction(enriched)
        return enriched

    def _mention(self, item: Interaction) -> Interaction:
        account = item.brand_account_id
        comment_id = item.raw.get("comment_id")
        if comment_id:
            found = self._fetch(account, "mentioned_comment", "comment_id", str(comment_id), COMMENT_FIELDS)
            text = found.get("text")
        else:
            media_id = str(item.raw.get("media_id") or item.external_id)
            found = self._fetch(account, "mentioned_media", "media_id", media_id, MEDIA_FIELDS)
            text = found.get("caption")
        username = found.get("username") or (
            (found.get("media") or {}).get("username") if not comment_id else None
        )
        author = item.author
        if username and not author.handle:
            author = replace(
                author,
                platform_user_id=author.platform_user_id or f"username:{username}",
                handle=str(username),
                profile_url=f"https://www.instagram.com/{username}/",
            )
        created = found.get("timestamp")
        permalink = found.get("permalink") or (found.get("media") or {}).get("permalink")
        return replace(
            item,
            text=str(text or ""),
            author=author,
            created_at=_parse_graph_time(created) or item.created_at,
            permalink=permalink or item.permalink,
        )

    def _fetch(self, account: str, edge: str, key: str, value: str, fields: str) -> dict[str, Any]:
        """protocols.md's ``/{ig-user-id}/{edge}?{key}=`` form, else Meta's field expansion form."""
        try:
            answer = self.graph.get(f"{account}/{edge}", {key: value, "fields": fields})
            if isinstance(answer, dict) and answer:
                return answer
        except GraphError as exc:
            if exc.code not in (100, 2500, None):
                raise
        answer = self.graph.get(account, {"fields": f"{edge}.{key}({value}){{{fields}}}"})
        found = answer.get(edge) if isinstance(answer, dict) else None
        if not isinstance(found, dict):
            raise GraphError(200, None, None, f"{edge} {value} not returned")
        return found

    def _with_followers(self, author: Author, account: str) -> Author:
        handle = str(author.handle).lstrip("@")
        store = self.runtime.store
        cached = store.get_state(FOLLOWERS_SCOPE, handle)
        if isinstance(cached, dict) and utcnow() - parse_datetime(cached["at"]) < FOLLOWERS_TTL:
            followers = cached.get("followers")
        else:
            followers = self._business_discovery(account, handle)
            store.set_state(FOLLOWERS_SCOPE, handle, {"followers": followers, "at": utcnow().isoformat()})
        return replace(author, followers_count=followers) if isinstance(followers, int) else author

    def _business_discovery(self, account: str, handle: str) -> int | None:
        if not handle.replace(".", "").replace("_", "").isalnum():
            return None  # not an Instagram username; never put it into a field expansion
        try:
            answer = self.graph.get(
                account, {"fields": f"business_discovery.username({handle}){{followers_count,username}}"}
            )
        except GraphError as exc:
            log.info("no public follower count for @%s: %s", handle, exc)
            return None
        count = (answer.get("business_discovery") or {}).get("followers_count")
        return int(count) if isinstance(count, int) else None


def _parse_graph_time(value: Any) -> Any:
    """Graph timestamps look like ``2025-03-17T12:00:00+0000``."""
    if not isinstance(value, str):
        return None
    text = value[:-5] + value[-5:-2] + ":" + value[-2:] if len(value) > 5 and value[-5] in "+-" else value
    try:
        return parse_datetime(text)
    except ValueError:
        return None
