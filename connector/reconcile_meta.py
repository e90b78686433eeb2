"""Fetch recent Facebook Page and Instagram comments from the Graph API, as webhook records.

Each comment the API returns is rewritten into the ``changes[].value`` shape its webhook
would have had (protocols.md A.4 / A.5) and run through the webhook parser itself, so
``thread_key``, ``external_id``, ``parent_external_id``, the author and ``from_brand``
come out exactly as if the webhook had arrived, and a late webhook is a duplicate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from connector.model import Interaction, parse_datetime
from connector.publish.graph_api import GraphClient
from webhooks.errors import MalformedPayloadError
from webhooks.meta_parse import EntryContext, parse_feed_change, parse_instagram_comment
from webhooks.payload import Node

Progress = Callable[[str], None]

#: Comments read per post / media at most: a viral post must not stall the whole run.
MAX_COMMENTS_PER_POST = 1000
#: Graph's largest page size; fewer round trips for the same objects.
PAGE_SIZE = 100
FB_POST_FIELDS = "id,created_time,permalink_url,updated_time"
# like_count and comment_count are the comment's engagement, a triage input.
FB_COMMENT_FIELDS = "id,message,from,created_time,parent,permalink_url,like_count,comment_count"
IG_MEDIA_FIELDS = "id,timestamp,permalink,comments_count"
# like_count is the comment's engagement, a triage input.
_IG_COMMENT = "id,text,timestamp,username,from,parent_id,like_count"
IG_COMMENT_FIELDS = f"{_IG_COMMENT},replies{{{_IG_COMMENT}}}"
#: Graph's engagement fields of a comment, copied into the rebuilt webhook value for the
#: parser to read when the API returned them (a webhook never carries them). Facebook's
#: ``like_count``/``comment_count`` (and ``reactions.summary(total_count)``) are read when
#: present but not asked for in :data:`FB_COMMENT_FIELDS` yet.
ENGAGEMENT_FIELDS = ("like_count", "comment_count", "reactions")


@dataclass
class Fetched:
    """What one source's fetch found so far; filled as it goes, so a failure keeps the rest.

    ``found`` pairs each record with the API object it came from (stored as the raw event).
    """

    found: list[tuple[Interaction, dict[str, Any]]] = field(default_factory=list)
    #: Comments (or mentions) inside the window that were looked at.
    scanned: int = 0
    #: Posts or media whose comments were read.
    containers: int = 0
    #: Objects the API returned that could not be read; retrying would not fix them.
    skipped: list[str] = field(default_factory=list)

    def add(self, parse: Callable[[], Interaction | None], source: dict[str, Any], where: str) -> None:
        """Parse one API object; a malformed one is noted and skipped, never fatal."""
        self.scanned += 1
        try:
            item = parse()
        except (MalformedPayloadError, ValueError) as exc:
            self.skipped.append(f"{where}: {exc}")
            return
        if item is not None:
            self.found.append((item, source))


def brand_ids(configured: Iterable[str], account_id: str) -> frozenset[str]:
    """Who counts as us: the configured brand ids plus the account itself, as the webhooks do."""
    return frozenset(configured) | {account_id}


def graph_time(value: Any) -> datetime | None:
    """Parse Graph's ``2025-03-17T12:00:00+0000``; None when absent or unreadable."""
    if not isinstance(value, str):
        return None
    try:
        return parse_datetime(value)
    except ValueError:
        return None


def _entry(obj: str, account_id: str, brand: frozenset[str], at: datetime) -> EntryContext:
    node = Node.root({"id": account_id, "time": int(at.timestamp())})
    return EntryContext(obj, node, account_id, brand)


def _required_time(obj: Mapping[str, Any], key: str) -> datetime:
    moment = graph_time(obj.get(key))
    if moment is None:
        raise ValueError(f"{key}: expected a Graph time like 2025-03-17T12:00:00+0000")
    return moment


# --- Facebook -----------------------------------------------------------------------------


def fetch_facebook(
    client: GraphClient,
    page_id: str,
    brand: frozenset[str],
    max_posts: int,
    start: datetime,
    into: Fetched,
    progress: Progress,
) -> None:
    """Read the comments since ``start`` on the Page's ``max_posts`` most recent posts.

    ``/posts`` is ordered by creation and a new comment on an older post is exactly what
    a reconciler exists to find, so every listed post's comments are read (with ``since``);
    ``updated_time`` is not trusted to say which posts have new comments.
    """
    posts = client.pages(
        f"{page_id}/posts",
        {"fields": FB_POST_FIELDS, "limit": min(max_posts, PAGE_SIZE)},
        max_items=max_posts,
    )
    for number, post in enumerate(posts, 1):
        post_id = str(post.get("id") or "")
        if not post_id:
            continue
        progress(f"facebook:{page_id}: post {number}/{max_posts} {post_id}")
        into.containers += 1
        params = {
            "filter": "stream",
            "order": "reverse_chronological",
            "since": int(start.timestamp()),
            "fields": FB_COMMENT_FIELDS,
            "limit": PAGE_SIZE,
        }
        comments = client.pages(f"{post_id}/comments", params, max_items=MAX_COMMENTS_PER_POST)
        for index, comment in enumerate(comments):
            created = graph_time(comment.get("created_time"))
            if created is not None and created < start:
                continue  # Graph's ``since`` is inclusive and coarse; keep the window exact.
            parse = partial(facebook_comment, comment, post, page_id, brand)
            into.add(parse, comment, f"{post_id}/comments[{index}]")


def facebook_comment(
    comment: Mapping[str, Any], post: Mapping[str, Any], page_id: str, brand: frozenset[str]
) -> Interaction | None:
    """Rebuild the ``feed`` change a comment's webhook carries and parse it like the webhook."""
    post_id = str(post["id"])
    created = _required_time(comment, "created_time")
    parent = comment.get("parent")
    value: dict[str, Any] = {
        "item": "comment",
        "verb": "add",
        "comment_id": comment.get("id"),
        "post_id": post_id,
        # The webhook's parent_id equals post_id for a top-level comment.
        "parent_id": parent.get("id") if isinstance(parent, Mapping) else post_id,
        "created_time": int(created.timestamp()),
        "post": {"id": post_id, "permalink_url": post.get("permalink_url")},
    }
    for key in ("from", "message", *ENGAGEMENT_FIELDS):
        if comment.get(key) is not None:
            value[key] = comment[key]
    ctx = _entry("page", page_id, brand, created)
    batch = parse_feed_change(ctx, Node.root(value))
    return batch.interactions[0] if batch.interactions else None


# --- Instagram ----------------------------------------------------------------------------


def fetch_instagram(
    client: GraphClient,
    ig_id: str,
    brand: frozenset[str],
    max_posts: int,
    start: datetime,
    into: Fetched,
    progress: Progress,
) -> None:
    """Read the comments and replies since ``start`` on the account's ``max_posts`` latest media.

    Media have no ``updated_time`` and the comments edge no ``since``: every listed
    media with comments is read, and the window is applied here.
    """
    media_list = client.pages(
        f"{ig_id}/media",
        {"fields": IG_MEDIA_FIELDS, "limit": min(max_posts, PAGE_SIZE)},
        max_items=max_posts,
        instagram=True,
    )
    for number, media in enumerate(media_list, 1):
        media_id = str(media.get("id") or "")
        if not media_id or media.get("comments_count") == 0:
            continue
        progress(f"instagram:{ig_id}: media {number}/{max_posts} {media_id}")
        into.containers += 1
        params = {"fields": IG_COMMENT_FIELDS, "limit": PAGE_SIZE}
        comments = client.pages(
            f"{media_id}/comments", params, max_items=MAX_COMMENTS_PER_POST, instagram=True
        )
        for index, comment in enumerate(comments):
            where = f"{media_id}/comments[{index}]"
            replies = comment.get("replies")
            nested = replies.get("data") if isinstance(replies, Mapping) else None
            threaded = [(comment, where)] + [
                # Nested replies always belong to the comment they are listed under.
                ({"parent_id": comment.get("id"), **reply}, f"{where}.replies[{n}]")
                for n, reply in enumerate(nested if isinstance(nested, list) else [])
                if isinstance(reply, dict)
            ]
            for item, item_where in threaded:
                created = graph_time(item.get("timestamp"))
                if created is not None and created < start:
                    continue
                into.add(partial(instagram_comment, item, media_id, ig_id, brand), item, item_where)


def instagram_comment(
    comment: Mapping[str, Any], media_id: str, ig_id: str, brand: frozenset[str]
) -> Interaction | None:
    """Rebuild the ``comments`` change a comment's webhook carries and parse it like the webhook."""
    created = _required_time(comment, "timestamp")
    value: dict[str, Any] = {
        "id": comment.get("id"),
        "text": comment.get("text"),
        "media": {"id": media_id},
        # Not in the webhook (Meta stamps the entry instead); the parser reads it first.
        "created_time": int(created.timestamp()),
    }
    sender = comment.get("from")
    if isinstance(sender, Mapping):
        value["from"] = {"username": comment.get("username"), **sender}
    elif comment.get("username") is not None:
        value["from"] = {"username": comment.get("username")}  # the parser names what is missing
    if comment.get("parent_id") is not None:
        value["parent_id"] = comment["parent_id"]
    for key in ENGAGEMENT_FIELDS:
        if comment.get(key) is not None:
            value[key] = comment[key]
    ctx = _entry("instagram", ig_id, brand, created)
    batch = parse_instagram_comment(ctx, Node.root(value))
    return batch.interactions[0] if batch.interactions else None
