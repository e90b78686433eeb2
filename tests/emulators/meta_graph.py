"""A local Meta Graph API (Facebook Pages, Instagram, Messenger) over real HTTP(S), for tests.

Wire behaviour follows docs/protocols.md section A.8-A.9: the reply endpoints with their windows
and one-private-reply rule, comment/post/media reads with cursor paging, mentions, business
discovery, hiding, conversations, Graph's error bodies, and throttling reported the way Meta does
(HTTP 400 with codes 4/17/32/613/8000x plus ``X-App-Usage`` / ``X-Business-Use-Case-Usage``,
never 429, never Retry-After).

    with MetaGraphEmulator() as graph:
        graph.add_post(f"{graph.page_id}_1", created)
        requests.get(f"{graph.base_url}/v21.0/{graph.page_id}/posts",
                     headers={"Authorization": f"Bearer {graph.page_token}"})
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tests.emulators.https_server import LoggedRequest, Reply, take_fault
from tests.emulators.local_emulator import BodyFault, LocalEmulator
from tests.emulators.meta_graph_api import (
    GraphApi,
    GraphRequest,
    fault_body,
    parse_params,
    request_token,
    split_path,
)
from tests.emulators.meta_graph_limits import UsageMeter, throttle_body
from tests.emulators.meta_graph_store import (
    ConversationMessage,
    FbComment,
    FbPost,
    GraphError,
    GraphStore,
    IgAccount,
    IgComment,
    IgMedia,
    MessagingUser,
)
from tests.emulators.tls import TlsMaterial

__all__ = ["MetaGraphEmulator"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class MetaGraphEmulator(LocalEmulator):
    """A threaded HTTP (or, given TLS material, HTTPS) server on 127.0.0.1 speaking the Graph API."""

    def __init__(
        self,
        tls: TlsMaterial | None = None,
        page_id: str = "103149398319188",
        ig_user_id: str = "17841405309211844",
        page_token: str = "EAAG-page-token",
        human_agent: bool = False,
        page_call_limit: int = 4800,
    ) -> None:
        super().__init__(tls)
        self.page_id = page_id
        self.ig_user_id = ig_user_id
        self.page_token = page_token
        self.tokens: set[str] = {page_token}
        self.human_agent = human_agent
        self.clock: Callable[[], datetime] = _utc_now
        self.store = GraphStore(page_id, ig_user_id, page_name="Acme", ig_username="acme")
        self.meter = UsageMeter(page_call_limit, lambda: self.clock())
        self._api = GraphApi(self.store, lambda: self.clock(), lambda: self.human_agent)

    @property
    def page_call_limit(self) -> int:
        return self.meter.limit

    @page_call_limit.setter
    def page_call_limit(self, value: int) -> None:
        self.meter.limit = value

    def add_token(self, token: str) -> None:
        """Accept another access token (e.g. an Instagram-Login user token)."""
        with self._lock:
            self.tokens.add(token)

    # -- seeding -------------------------------------------------------------------------------------

    def add_post(
        self,
        post_id: str,
        created_time: datetime,
        message: str = "",
        permalink_url: str | None = None,
        from_id: str | None = None,
        from_name: str = "Visitor",
    ) -> None:
        """A Page post ``{page_id}_{n}``; ``from_id`` makes it a visitor post (feed only)."""
        with self._lock:
            number = post_id.split("_")[-1]
            permalink = permalink_url or f"https://www.facebook.com/{self.page_id}/posts/{number}"
            author = (from_id, from_name) if from_id else (self.page_id, self.store.page_name)
            self.store.posts[post_id] = FbPost(
                post_id, created_time, message, permalink, author[0], author[1], created_time
            )

    def add_comment(
        self,
        post_id: str,
        comment_id: str,
        from_id: str,
        from_name: str,
        message: str,
        created_time: datetime,
        parent_id: str | None = None,
    ) -> None:
        """A Facebook comment ``{postnum}_{n}``; ``parent_id`` (a comment id) makes it a reply."""
        with self._lock:
            if post_id not in self.store.posts:
                raise KeyError(f"no post {post_id}; add_post first")
            if parent_id is not None and parent_id not in self.store.comments:
                raise KeyError(f"no comment {parent_id}")
            if parent_id is not None:
                parent_id = self.store.comments[parent_id].parent_id or parent_id  # one level deep
            self.store.comments[comment_id] = FbComment(
                comment_id, post_id, from_id, from_name, message, created_time, parent_id
            )

    def add_ig_media(
        self,
        media_id: str,
        timestamp: datetime,
        caption: str = "",
        permalink: str | None = None,
        username: str = "acme",
    ) -> None:
        """Media owned by our Instagram account."""
        with self._lock:
            link = permalink or f"https://www.instagram.com/p/{media_id}/"
            self.store.media[media_id] = IgMedia(media_id, timestamp, caption, link, username, owned=True)

    def add_ig_comment(
        self,
        media_id: str,
        comment_id: str,
        from_id: str,
        username: str,
        text: str,
        timestamp: datetime,
        parent_id: str | None = None,
    ) -> None:
        with self._lock:
            if media_id not in self.store.media or not self.store.media[media_id].owned:
                raise KeyError(f"no own media {media_id}; add_ig_media first")
            if parent_id is not None:
                if parent_id not in self.store.ig_comments:
                    raise KeyError(f"no IG comment {parent_id}")
                parent_id = self.store.ig_comments[parent_id].parent_id or parent_id
            self.store.ig_comments[comment_id] = IgComment(
                comment_id, media_id, from_id, username, text, timestamp, parent_id
            )

    def add_mentioned_comment(
        self,
        comment_id: str,
        text: str,
        timestamp: datetime,
        username: str,
        media_id: str,
        like_count: int = 0,
        from_id: str | None = None,
    ) -> None:
        """A comment on someone else's media that @mentions us (readable only via mentioned_comment)."""
        with self._lock:
            self.store.mentioned_comments[comment_id] = IgComment(
                comment_id,
                media_id,
                from_id or f"ig-{username}",
                username,
                text,
                timestamp,
                like_count=like_count,
            )

    def add_mentioned_media(
        self, media_id: str, caption: str, timestamp: datetime, username: str, permalink: str | None = None
    ) -> None:
        """Someone else's media whose caption @mentions us."""
        with self._lock:
            link = permalink or f"https://www.instagram.com/p/{media_id}/"
            self.store.media[media_id] = IgMedia(media_id, timestamp, caption, link, username, owned=False)

    def add_ig_business_account(self, username: str, followers_count: int, media_count: int = 0) -> None:
        with self._lock:
            account_id = self.store.new_number(17_841_400_000_000_000)
            self.store.accounts[username.lower()] = IgAccount(
                account_id, username, followers_count, media_count, name=username
            )

    def user_message(self, platform: str, user_id: str, at: datetime, text: str = "") -> None:
        """The user (PSID for "messenger", IGSID for "instagram") wrote to us at ``at``: opens the windows."""
        if platform not in ("messenger", "instagram"):
            raise ValueError(f"platform must be messenger or instagram, not {platform!r}")
        with self._lock:
            known = self.store.users.get(user_id)
            last = at if known is None or known.platform != platform else max(at, known.last_message_at)
            self.store.users[user_id] = MessagingUser(platform, user_id, last)
            message_id = self.store.new_message_id()
            self.store.conversation(platform, user_id).messages.append(
                ConversationMessage(message_id, text, user_id, at, platform, user_id)
            )

    # -- faults and limits ---------------------------------------------------------------------------

    def throttle_next(self, n: int = 1, code: int = 4, minutes_to_regain: int = 5) -> None:
        """Answer the next ``n`` authenticated calls with Graph throttling error ``code`` (HTTP 400)."""
        with self._lock:
            self.meter.force(n, code, minutes_to_regain)

    def clear_faults(self) -> None:
        """Forget pending faults, dropped connections, forced throttles and the call window."""
        with self._lock:
            self._faults.clear()
            self._drops.clear()
            self.meter.reset()

    # -- inspection ----------------------------------------------------------------------------------

    def posted(self) -> list[dict[str, Any]]:
        """Every object created through the API, in order (copies)."""
        with self._lock:
            return [dict(item) for item in self.store.posted]

    def hidden(self) -> dict[str, bool]:
        """Comment id → hidden flag, for comments hidden or unhidden through the API."""
        with self._lock:
            return dict(self.store.hidden)

    def conversation_messages(self, platform: str, user_id: str) -> list[ConversationMessage]:
        """The messages of one conversation, oldest first (both directions)."""
        with self._lock:
            conversation = self.store.conversations.get((platform, user_id))
            return sorted(conversation.messages, key=lambda m: m.created_time) if conversation else []

    # -- request handling (called by the HTTP handler) -------------------------------------------

    def serve(self, entry: LoggedRequest) -> Reply:
        """Log one HTTP request and produce its reply (called from the connection's thread)."""
        params, body_error = parse_params(entry)
        with self._lock:
            self.request_log.append(entry)
            if take_fault(self._drops, entry.path):
                return Reply(0, drop=True)
            fault = take_fault(self._faults, entry.path)
            authenticated = request_token(entry, params) in self.tokens
            try:
                segments = split_path(entry.path)[1]
            except GraphError:
                segments = []
            business_id, use_case = self._api.usage_key(segments)

            def usage() -> dict[str, str]:
                return self.meter.headers(business_id, use_case) if authenticated else {}

            if fault is not None:
                body = fault.body if isinstance(fault, BodyFault) and fault.body is not None else None
                return Reply(fault.status, body if body is not None else fault_body(fault.status), usage())
            try:
                if not authenticated:
                    raise GraphError(190, "Invalid OAuth access token - Cannot parse access token")
                version, segments = split_path(entry.path)
                forced = self.meter.take_forced()
                if forced is not None:
                    headers = self.meter.headers(business_id, use_case, forced)
                    return Reply(400, throttle_body(forced.code), headers)
                if not self.meter.admit():
                    return Reply(400, throttle_body(32), usage())
                entry.counted = True
                if body_error is not None:
                    raise body_error
                request = GraphRequest(entry.method, version, segments, params, self.base_url)
                status, answer = 200, self._api.dispatch(request)
            except GraphError as error:
                status, answer = error.status, error.body()
            return Reply(status, answer, usage())
