"""Meta Graph emulator: request parsing (token, merged parameters), routing of
``/{version}/{id}[/{edge}]``, and the Facebook Pages endpoints."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from tests.emulators.https_server import LoggedRequest
from tests.emulators.meta_graph_fields import edge, parse_fields, time_filter
from tests.emulators.meta_graph_instagram import Instagram, parse_bool, required_text
from tests.emulators.meta_graph_messaging import Messaging
from tests.emulators.meta_graph_nodes import build_nodes, fb_comments_of
from tests.emulators.meta_graph_store import (
    FbComment,
    GraphError,
    GraphStore,
    error_body,
    invalid_param,
    unknown_object,
    unsupported,
)

VERSION = re.compile(r"^v\d+\.\d+$")
FB_ID_BASE = 10**15
DEFAULT_FAULT_ERRORS: dict[int, tuple[int, str]] = {
    400: (100, "(#100) Invalid parameter"),
    401: (190, "Invalid OAuth access token - Cannot parse access token"),
    403: (200, "(#200) Permissions error"),
    404: (803, "(#803) Some of the aliases you requested do not exist"),
}


@dataclass
class GraphRequest:
    method: str
    version: str
    segments: list[str]  # the path after the version: [id] or [id, edge]
    params: dict[str, Any]  # query, form and JSON body merged
    base_url: str

    @property
    def url(self) -> str:
        """The request's own URL without query, for ``paging.next``."""
        return "/".join([self.base_url, self.version, *self.segments])


def split_path(path: str) -> tuple[str, list[str]]:
    """``/v21.0/123/comments`` → ``("v21.0", ["123", "comments"])``; no version → Graph error 2500."""
    parts = [part for part in path.split("/") if part]
    if not parts or not VERSION.match(parts[0]):
        raise GraphError(2500, f"Unknown path components: /{'/'.join(parts)}")
    if len(parts) not in (2, 3):
        raise GraphError(2500, f"Unknown path components: /{'/'.join(parts[3:] or parts)}")
    return parts[0], parts[1:]


class GraphApi:
    """Dispatch one authenticated request to the object and edge it names."""

    def __init__(
        self, store: GraphStore, now: Callable[[], datetime], human_agent: Callable[[], bool]
    ) -> None:
        self.store = store
        self.now = now
        self.nodes = build_nodes(store, now)
        self.instagram = Instagram(store, self.nodes, now)
        self.messaging = Messaging(store, self.nodes, now, human_agent)

    def usage_key(self, segments: list[str]) -> tuple[str, str]:
        """Which business id and use case (``pages``/``instagram``/``messenger``) a call is billed to."""
        store = self.store
        object_id = segments[0] if segments else ""
        edge_name = segments[1] if len(segments) > 1 else ""
        if object_id == store.ig_user_id or object_id in store.media or object_id in store.ig_comments:
            return store.ig_user_id, "instagram"
        if object_id in (store.page_id, "me") and edge_name in ("messages", "conversations"):
            return store.page_id, "messenger"
        return store.page_id, "pages"

    def dispatch(self, request: GraphRequest) -> Any:
        store, method, params = self.store, request.method, request.params
        object_id = request.segments[0]
        edge_name = request.segments[1] if len(request.segments) > 1 else None
        if method not in ("GET", "POST"):
            raise unsupported(method)
        if object_id in (store.page_id, "me"):
            return self._page(request, edge_name)
        if object_id == store.ig_user_id:
            return self._ig_user(request, edge_name)
        if object_id in store.posts:
            return self._post(request, edge_name)
        if object_id in store.comments:
            return self._fb_comment(request, store.comments[object_id], edge_name)
        if object_id in store.media:
            media = store.media[object_id]
            if edge_name is None and method == "GET" and media.owned:
                return self.nodes.ig_media.render(media, parse_fields(params.get("fields")))
            if edge_name == "comments" and method == "GET" and media.owned:
                return self.instagram.media_comments(object_id, params, request.url)
            raise unknown_object(object_id, method) if not media.owned else unsupported(method)
        if object_id in store.ig_comments:
            return self._ig_comment(request, edge_name)
        raise unknown_object(object_id, method)

    # -- Facebook Page and its posts -----------------------------------------------------------------

    def _page(self, request: GraphRequest, edge_name: str | None) -> Any:
        method, params = request.method, request.params
        if edge_name is None and method == "GET":
            return self.nodes.page.render(None, parse_fields(params.get("fields")))
        if edge_name in ("posts", "feed") and method == "GET":
            posts = [
                p for p in self.store.posts.values() if edge_name == "feed" or p.from_id == self.store.page_id
            ]
            posts.sort(key=lambda p: (p.created_time, p.id), reverse=True)
            items = time_filter(posts, lambda p: p.created_time, params)
            specs = parse_fields(params.get("fields"))
            return edge(self.nodes.fb_post, items, lambda p: p.id, params, request.url, specs)
        if edge_name == "messages" and method == "POST":
            return self.messaging.send("page", params)
        if edge_name == "conversations" and method == "GET":
            return self.messaging.conversations("page", params, request.url)
        raise unsupported(method)

    def _ig_user(self, request: GraphRequest, edge_name: str | None) -> Any:
        method, params = request.method, request.params
        fields = parse_fields(params.get("fields"))
        children = fields or None
        if edge_name is None and method == "GET":
            return self.instagram.user_node(params)
        if edge_name == "media" and method == "GET":
            return self.instagram.media(params, request.url)
        if edge_name == "mentioned_comment" and method == "GET":
            return self.instagram.mentioned_comment(params.get("comment_id"), children)
        if edge_name == "mentioned_media" and method == "GET":
            return self.instagram.mentioned_media(params.get("media_id"), children)
        if edge_name == "mentions" and method == "POST":
            return self.instagram.reply_to_mention(params)
        if edge_name == "messages" and method == "POST":
            return self.messaging.send("instagram", params)
        if edge_name == "conversations" and method == "GET":
            return self.messaging.conversations("instagram", params, request.url)
        raise unsupported(method)

    def _post(self, request: GraphRequest, edge_name: str | None) -> Any:
        method, params = request.method, request.params
        post = self.store.posts[request.segments[0]]
        if edge_name is None and method == "GET":
            return self.nodes.fb_post.render(post, parse_fields(params.get("fields")))
        if edge_name == "comments" and method == "GET":
            return self._comments_edge(request)
        if edge_name == "comments" and method == "POST":
            return self._new_comment(post.id, None, request.segments[0], params)
        raise unsupported(method)

    # -- Facebook comments ---------------------------------------------------------------------------

    def _fb_comment(self, request: GraphRequest, comment: FbComment, edge_name: str | None) -> Any:
        method, params = request.method, request.params
        if edge_name is None and method == "GET":
            return self.nodes.fb_comment.render(comment, parse_fields(params.get("fields")))
        if edge_name is None and method == "POST":
            return self._update_comment(comment, params)
        if edge_name == "comments" and method == "GET":
            return self._comments_edge(request)
        if edge_name == "comments" and method == "POST":
            top = comment.parent_id or comment.id  # Facebook keeps replies one level deep
            return self._new_comment(comment.post_id, top, comment.id, params)
        raise unsupported(method)

    def _comments_edge(self, request: GraphRequest) -> dict[str, Any]:
        params = request.params
        items = time_filter(
            fb_comments_of(self.store, request.segments[0], params), lambda c: c.created_time, params
        )
        specs = parse_fields(params.get("fields"))
        return edge(self.nodes.fb_comment, items, lambda c: c.id, params, request.url, specs)

    def _new_comment(self, post_id: str, parent_id: str | None, target: str, params: dict[str, Any]) -> Any:
        text = required_text(params)
        new_id = f"{post_id.split('_')[-1]}_{self.store.new_number(FB_ID_BASE)}"
        self.store.comments[new_id] = FbComment(
            new_id, post_id, self.store.page_id, self.store.page_name, text, self.now(), parent_id
        )
        self.store.record("comment_reply", new_id, target, text)
        return {"id": new_id}

    def _update_comment(self, comment: FbComment, params: dict[str, Any]) -> dict[str, bool]:
        """``POST /{comment-id}`` with ``is_hidden`` (hide/unhide) or ``message`` (edit)."""
        if "is_hidden" in params:
            comment.is_hidden = parse_bool(params["is_hidden"], "is_hidden")
            self.store.hidden[comment.id] = comment.is_hidden
        elif params.get("message"):
            if comment.from_id != self.store.page_id:
                raise GraphError(200, "(#200) Permissions error", status=403)
            comment.message = str(params["message"])
        else:
            raise invalid_param("param is_hidden or message must be non-empty")
        return {"success": True}

    # -- Instagram comments --------------------------------------------------------------------------

    def _ig_comment(self, request: GraphRequest, edge_name: str | None) -> Any:
        method, params = request.method, request.params
        comment = self.store.ig_comments[request.segments[0]]
        if edge_name is None and method == "GET":
            return self.nodes.ig_comment.render(comment, parse_fields(params.get("fields")))
        if edge_name is None and method == "POST":
            return self.instagram.hide(comment, params)
        if edge_name == "replies" and method == "GET":
            return self.instagram.replies(comment, params, request.url)
        if edge_name == "replies" and method == "POST":
            return self.instagram.reply(comment, params)
        raise unsupported(method)


def fault_body(status: int) -> dict[str, Any]:
    code, message = DEFAULT_FAULT_ERRORS.get(
        status, (2, "An unexpected error has occurred. Please retry your request later.")
    )
    body = error_body(code, message)
    if code == 2:
        body["error"]["is_transient"] = True
    return body


def request_token(entry: LoggedRequest, params: dict[str, Any]) -> str | None:
    """``Authorization: Bearer|OAuth <token>`` or the ``access_token`` parameter."""
    scheme, _, value = entry.headers.get("authorization", "").partition(" ")
    if scheme.lower() in ("bearer", "oauth") and value.strip():
        return value.strip()
    token = params.get("access_token")
    return str(token) if token else None


def parse_params(entry: LoggedRequest) -> tuple[dict[str, Any], GraphError | None]:
    """Merge the query, a form body and a JSON body (Graph accepts all three); keep the body in the log."""
    params: dict[str, Any] = dict(entry.query)
    if not entry.raw_body:
        return params, None
    content_type = entry.headers.get("content-type", "").lower()
    try:
        text = entry.raw_body.decode()
    except UnicodeDecodeError:
        return params, GraphError(100, "(#100) The request body is not valid UTF-8")
    if "json" in content_type or text.lstrip().startswith("{"):
        try:
            body = json.loads(text)
        except json.JSONDecodeError:
            return params, GraphError(100, "(#100) Invalid JSON in the request body")
        if not isinstance(body, dict):
            return params, GraphError(100, "(#100) The request body must be a JSON object")
    else:
        body = dict(parse_qsl(text, keep_blank_values=True))
    entry.body = body
    params.update(body)
    return params, None
