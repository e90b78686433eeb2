"""Meta Graph emulator: how each node type renders (Page post, comment, IG media, IG comment, ...).

Field names, default fields and nesting follow the Graph reference, so clients that request
``from{id,username}`` or ``replies{id,text}`` get the shape production would send.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tests.emulators.meta_graph_fields import OMIT, FieldSpec, NodeType, nested_edge
from tests.emulators.meta_graph_store import (
    Conversation,
    ConversationMessage,
    FbComment,
    FbPost,
    GraphStore,
    IgComment,
    graph_time,
    invalid_param,
)

PRIVATE_REPLY_WINDOW = timedelta(days=7)


def fb_comment_order(comments: list[FbComment], params: dict[str, Any]) -> list[FbComment]:
    """``order=chronological`` (default) or ``reverse_chronological``."""
    order = str(params.get("order") or "chronological")
    if order not in ("chronological", "reverse_chronological"):
        raise invalid_param("param order must be one of {CHRONOLOGICAL, REVERSE_CHRONOLOGICAL}")
    ordered = sorted(comments, key=lambda c: (c.created_time, c.id))
    return ordered[::-1] if order == "reverse_chronological" else ordered


def fb_comments_of(store: GraphStore, object_id: str, params: dict[str, Any]) -> list[FbComment]:
    """The comments edge of a post or comment: ``filter=toplevel`` (default) or ``stream``."""
    mode = str(params.get("filter") or "toplevel")
    if mode not in ("toplevel", "stream"):
        raise invalid_param("param filter must be one of {TOPLEVEL, STREAM}")
    if object_id in store.posts:
        found = [c for c in store.comments.values() if c.post_id == object_id]
        if mode == "toplevel":
            found = [c for c in found if c.parent_id is None]
    else:
        found = store.fb_replies(object_id)
    return fb_comment_order(found, params)


def ig_media_comments(store: GraphStore, media_id: str) -> list[IgComment]:
    """Top-level comments on a media object, newest first."""
    found = [c for c in store.ig_comments.values() if c.media_id == media_id and c.parent_id is None]
    return sorted(found, key=lambda c: (c.timestamp, c.id), reverse=True)


def ig_comment_replies(store: GraphStore, comment_id: str) -> list[IgComment]:
    """Replies to a comment, oldest first."""
    return sorted(store.ig_replies(comment_id), key=lambda c: (c.timestamp, c.id))


def _fixed(value: Any) -> Callable[[Any, FieldSpec], Any]:
    return lambda _obj, _spec: value


def _or_omit(value: Any) -> Any:
    return OMIT if value in (None, "") else value


@dataclass
class Nodes:
    page: NodeType
    fb_post: NodeType
    fb_comment: NodeType
    ig_media: NodeType
    ig_comment: NodeType
    ig_user: NodeType
    account: NodeType
    conversation: NodeType
    message: NodeType


def build_nodes(store: GraphStore, now: Callable[[], datetime]) -> Nodes:
    """Node renderers bound to one store; ``now`` is read on every call (tests move the clock)."""
    fb_from = NodeType("User", {"id": lambda o, s: o[0], "name": lambda o, s: o[1]}, ("id", "name"))
    ig_from = NodeType(
        "IGCommentFromUser", {"id": lambda o, s: o[0], "username": lambda o, s: o[1]}, ("id", "username")
    )

    def sub(node_type: NodeType, obj: Any, spec: FieldSpec) -> dict[str, Any]:
        return node_type.render(obj, spec.children)

    def fb_can_reply_privately(c: FbComment) -> bool:
        return (
            c.from_id != store.page_id
            and not c.privately_replied
            and now() - c.created_time <= PRIVATE_REPLY_WINDOW
        )

    fb_comment = NodeType("Comment", {}, ("created_time", "from", "message", "id"))

    def fb_parent(c: FbComment, spec: FieldSpec) -> Any:
        if c.parent_id is None:
            return OMIT
        parent = store.comments.get(c.parent_id)
        if spec.children and parent is not None:
            return fb_comment.render(parent, spec.children)
        return {"id": c.parent_id}

    def fb_comment_permalink(c: FbComment, _spec: FieldSpec) -> str:
        post_number = c.post_id.split("_")[-1]
        return (
            f"https://www.facebook.com/{store.page_id}/posts/{post_number}?comment_id={c.id.split('_')[-1]}"
        )

    fb_comment.getters.update(
        {
            "id": lambda c, s: c.id,
            "message": lambda c, s: c.message,
            "from": lambda c, s: sub(fb_from, (c.from_id, c.from_name), s),
            "created_time": lambda c, s: graph_time(c.created_time),
            "parent": fb_parent,
            "permalink_url": fb_comment_permalink,
            "is_hidden": lambda c, s: c.is_hidden,
            "can_hide": lambda c, s: c.from_id != store.page_id,
            "can_reply_privately": lambda c, s: fb_can_reply_privately(c),
            "comment_count": lambda c, s: len(store.fb_replies(c.id)),
            "like_count": _fixed(0),
            "comments": lambda c, s: nested_edge(
                fb_comment, fb_comments_of(store, c.id, s.modifiers), lambda x: x.id, s
            ),
        }
    )

    def post_comments(p: FbPost, spec: FieldSpec) -> dict[str, Any]:
        found = fb_comments_of(store, p.id, spec.modifiers)
        answer = nested_edge(fb_comment, found, lambda x: x.id, spec)
        if spec.modifiers.get("summary", "").lower() == "true":
            answer["summary"] = {
                "order": spec.modifiers.get("order", "chronological"),
                "total_count": len(found),
            }
        return answer

    fb_post = NodeType(
        "Post",
        {
            "id": lambda p, s: p.id,
            "message": lambda p, s: _or_omit(p.message),
            "created_time": lambda p, s: graph_time(p.created_time),
            "updated_time": lambda p, s: graph_time(p.updated_time),
            "permalink_url": lambda p, s: p.permalink_url,
            "from": lambda p, s: sub(fb_from, (p.from_id, p.from_name), s),
            "comments": post_comments,
        },
        ("created_time", "message", "id"),
    )

    ig_media = NodeType("IGMedia", {}, ("id",))
    ig_comment = NodeType("IGComment", {}, ("timestamp", "text", "id"))

    def comment_media(c: IgComment, spec: FieldSpec) -> dict[str, Any]:
        media = store.media.get(c.media_id)
        if media is None:  # someone else's media we were never told about: only its id is known
            return {"id": c.media_id}
        return ig_media.render(media, spec.children or [FieldSpec("id")])

    ig_comment.getters.update(
        {
            "id": lambda c, s: c.id,
            "text": lambda c, s: c.text,
            "timestamp": lambda c, s: graph_time(c.timestamp),
            "username": lambda c, s: c.username,
            "from": lambda c, s: sub(ig_from, (c.from_id, c.username), s),
            "parent_id": lambda c, s: _or_omit(c.parent_id),
            "hidden": lambda c, s: c.hidden,
            "like_count": lambda c, s: c.like_count,
            "media": comment_media,
            "replies": lambda c, s: nested_edge(
                ig_comment, ig_comment_replies(store, c.id), lambda x: x.id, s
            ),
        }
    )
    ig_media.getters.update(
        {
            "id": lambda m, s: m.id,
            "caption": lambda m, s: _or_omit(m.caption),
            "timestamp": lambda m, s: graph_time(m.timestamp),
            "permalink": lambda m, s: m.permalink,
            "username": lambda m, s: m.username,
            "media_type": lambda m, s: m.media_type,
            "media_product_type": _fixed("FEED"),
            "like_count": lambda m, s: m.like_count,
            "comments_count": lambda m, s: sum(1 for c in store.ig_comments.values() if c.media_id == m.id),
            "owner": lambda m, s: {"id": store.ig_user_id} if m.owned else OMIT,
            "comments": lambda m, s: nested_edge(
                ig_comment, ig_media_comments(store, m.id), lambda x: x.id, s
            ),
        }
    )

    account = NodeType(
        "IGUser",
        {
            "id": lambda a, s: a.id,
            "username": lambda a, s: a.username,
            "name": lambda a, s: a.name,
            "followers_count": lambda a, s: a.followers_count,
            "media_count": lambda a, s: a.media_count,
        },
    )

    message = NodeType("Message", {}, ("id", "created_time"))

    def participant(user_id: str) -> dict[str, str]:
        if user_id == store.page_id:
            return {"id": user_id, "name": store.page_name}
        if user_id == store.ig_user_id:
            return {"id": user_id, "username": store.ig_username}
        return {"id": user_id}

    def message_to(m: ConversationMessage, _spec: FieldSpec) -> dict[str, Any]:
        ours = store.sender_id(m.platform)
        return {"data": [participant(m.user_id if m.from_id == ours else ours)]}

    message.getters.update(
        {
            "id": lambda m, s: m.id,
            "message": lambda m, s: m.text,
            "created_time": lambda m, s: graph_time(m.created_time),
            "from": lambda m, s: participant(m.from_id),
            "to": message_to,
        }
    )

    def conversation_messages(c: Conversation, spec: FieldSpec) -> dict[str, Any]:
        newest_first = sorted(c.messages, key=lambda m: m.created_time, reverse=True)
        return nested_edge(message, newest_first, lambda m: m.id, spec)

    conversation = NodeType(
        "Conversation",
        {
            "id": lambda c, s: c.id,
            "updated_time": lambda c, s: graph_time(max(m.created_time for m in c.messages)),
            "message_count": lambda c, s: len(c.messages),
            "messages": conversation_messages,
            "participants": lambda c, s: {
                "data": [
                    participant(c.user_id),
                    participant(store.sender_id(c.platform)),
                ]
            },
        },
        ("id", "updated_time"),
    )

    page = NodeType(
        "Page",
        {
            "id": lambda p, s: store.page_id,
            "name": lambda p, s: store.page_name,
            "instagram_business_account": lambda p, s: {"id": store.ig_user_id},
        },
        ("name", "id"),
    )
    ig_user = NodeType(
        "IGUser",
        {
            "id": lambda u, s: store.ig_user_id,
            "username": lambda u, s: store.ig_username,
            "name": lambda u, s: store.page_name,
            "media_count": lambda u, s: sum(1 for m in store.media.values() if m.owned),
            "followers_count": _fixed(0),
        },
    )
    return Nodes(page, fb_post, fb_comment, ig_media, ig_comment, ig_user, account, conversation, message)
