"""Meta Graph emulator: Instagram comments, replies, media, mentions and business discovery."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from tests.emulators.meta_graph_fields import FieldSpec, edge, parse_fields, time_filter
from tests.emulators.meta_graph_nodes import Nodes, ig_comment_replies, ig_media_comments
from tests.emulators.meta_graph_store import (
    GraphError,
    GraphStore,
    IgComment,
    invalid_param,
    unknown_object,
)

IG_ID_BASE = 17_900_000_000_000_000


def parse_bool(value: Any, name: str) -> bool:
    text = str(value).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise invalid_param(f"param {name} must be a boolean")


def required_text(params: dict[str, Any], name: str = "message") -> str:
    value = params.get(name)
    if not isinstance(value, str) or not value.strip():
        raise invalid_param(f"param {name} must be non-empty")
    return value


class Instagram:
    """The Instagram API with Facebook Login (and Instagram Login: same paths, other host)."""

    def __init__(self, store: GraphStore, nodes: Nodes, now: Callable[[], datetime]) -> None:
        self.store = store
        self.nodes = nodes
        self.now = now

    # -- comments ------------------------------------------------------------------------------------

    def reply(self, comment: IgComment, params: dict[str, Any]) -> dict[str, str]:
        """``POST /{ig-comment-id}/replies``: a reply to a reply lands on the top-level comment."""
        text = required_text(params)
        if comment.hidden:
            raise invalid_param("Cannot reply to a hidden comment")
        top = comment.parent_id or comment.id
        new_id = self.store.new_number(IG_ID_BASE)
        self.store.ig_comments[new_id] = IgComment(
            new_id, comment.media_id, self.store.ig_user_id, self.store.ig_username, text, self.now(), top
        )
        self.store.record("ig_reply", new_id, comment.id, text)
        return {"id": new_id}

    def hide(self, comment: IgComment, params: dict[str, Any]) -> dict[str, bool]:
        """``POST /{ig-comment-id}?hide=true|false``."""
        if "hide" not in params:
            raise invalid_param("param hide must be non-empty")
        comment.hidden = parse_bool(params["hide"], "hide")
        self.store.hidden[comment.id] = comment.hidden
        return {"success": True}

    def replies(self, comment: IgComment, params: dict[str, Any], url: str) -> dict[str, Any]:
        items = time_filter(ig_comment_replies(self.store, comment.id), lambda c: c.timestamp, params)
        specs = parse_fields(params.get("fields"))
        return edge(self.nodes.ig_comment, items, lambda c: c.id, params, url, specs)

    def media_comments(self, media_id: str, params: dict[str, Any], url: str) -> dict[str, Any]:
        items = time_filter(ig_media_comments(self.store, media_id), lambda c: c.timestamp, params)
        specs = parse_fields(params.get("fields"))
        return edge(self.nodes.ig_comment, items, lambda c: c.id, params, url, specs)

    def media(self, params: dict[str, Any], url: str) -> dict[str, Any]:
        """``GET /{ig-user-id}/media``: our own media, newest first."""
        owned = [m for m in self.store.media.values() if m.owned]
        owned.sort(key=lambda m: (m.timestamp, m.id), reverse=True)
        items = time_filter(owned, lambda m: m.timestamp, params)
        specs = parse_fields(params.get("fields"))
        return edge(self.nodes.ig_media, items, lambda m: m.id, params, url, specs)

    # -- mentions and business discovery -------------------------------------------------------------

    def mentioned_comment(self, comment_id: str | None, children: list[FieldSpec] | None) -> dict[str, Any]:
        if not comment_id:
            raise invalid_param("param comment_id must be non-empty")
        comment = self.store.mentioned_comments.get(comment_id)
        if comment is None:
            raise unknown_object(comment_id, "get")
        return self.nodes.ig_comment.render(comment, children)

    def mentioned_media(self, media_id: str | None, children: list[FieldSpec] | None) -> dict[str, Any]:
        if not media_id:
            raise invalid_param("param media_id must be non-empty")
        media = self.store.media.get(media_id)
        if media is None or media.owned:
            raise unknown_object(media_id, "get")
        return self.nodes.ig_media.render(media, children)

    def business_discovery(self, username: str | None, children: list[FieldSpec] | None) -> dict[str, Any]:
        account = self.store.accounts.get((username or "").lower())
        if account is None:
            raise GraphError(
                110, "(#110) Cannot find User. The user might not be a business or creator account.", 2207013
            )
        return self.nodes.account.render(account, children)

    def user_node(self, params: dict[str, Any]) -> dict[str, Any]:
        """``GET /{ig-user-id}?fields=...``, including the field-expansion forms of the mentions
        (``mentioned_comment.comment_id(X){...}``) and ``business_discovery.username(X){...}``."""
        specs = parse_fields(params.get("fields"))
        plain: list[FieldSpec] = []
        out: dict[str, Any] = {}
        for spec in specs:
            if spec.name == "mentioned_comment":
                out[spec.name] = self.mentioned_comment(spec.modifiers.get("comment_id"), spec.children)
            elif spec.name == "mentioned_media":
                out[spec.name] = self.mentioned_media(spec.modifiers.get("media_id"), spec.children)
            elif spec.name == "business_discovery":
                out[spec.name] = self.business_discovery(spec.modifiers.get("username"), spec.children)
            else:
                plain.append(spec)
        return {**out, **self.nodes.ig_user.render(None, plain)}  # no plain fields: just the id

    def reply_to_mention(self, params: dict[str, Any]) -> dict[str, str]:
        """``POST /{ig-user-id}/mentions``: comment on a caption mention, or reply to a comment mention."""
        media_id = required_text(params, "media_id")
        text = required_text(params)
        comment_id = params.get("comment_id")
        if comment_id:
            comment = self.store.mentioned_comments.get(str(comment_id))
            if comment is None or comment.media_id != media_id:
                raise unknown_object(str(comment_id), "post")
            target = comment.id
        else:
            media = self.store.media.get(media_id)
            if media is None or media.owned:
                raise unknown_object(media_id, "post")
            target = media.id
        new_id = self.store.new_number(IG_ID_BASE)
        self.store.record("ig_mention_reply", new_id, target, text)
        return {"id": new_id}
