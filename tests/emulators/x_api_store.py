"""The X emulator's data: users, tweets and DM events, plus snowflake-like id generation.

Plain data and lookups only; the HTTP shapes live in ``x_api_render`` and the routes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from tests.emulators.x_api_text import mentioned_usernames

TWITTER_EPOCH_MS = 1288834974657


@dataclass
class User:
    id: str
    username: str
    name: str
    followers_count: int = 0
    following_count: int = 0
    listed_count: int = 0
    verified: bool = False
    protected: bool = False
    description: str = ""
    created_at: datetime = field(default_factory=lambda: datetime(2013, 12, 14, 4, 35, 55, tzinfo=UTC))


@dataclass
class Tweet:
    id: str
    author_id: str
    text: str
    created_at: datetime
    conversation_id: str
    in_reply_to_tweet_id: str | None = None
    in_reply_to_user_id: str | None = None
    lang: str = "en"
    deleted: bool = False
    via_api: bool = False  # created through POST /2/tweets (as opposed to seeded by the test)


@dataclass
class DmEvent:
    id: str
    sender_id: str
    recipient_id: str
    text: str
    created_at: datetime
    via_api: bool = False

    @property
    def conversation_id(self) -> str:
        return conversation_id(self.sender_id, self.recipient_id)

    def involves(self, a: str, b: str) -> bool:
        return {self.sender_id, self.recipient_id} == {a, b}


def conversation_id(a: str, b: str) -> str:
    """1:1 conversation ids are ``<lower id>-<higher id>`` (numeric order)."""
    low, high = sorted((a, b), key=int)
    return f"{low}-{high}"


class Store:
    """Everything the emulated account can see; callers hold the emulator's lock."""

    def __init__(self) -> None:
        self.users: dict[str, User] = {}
        self.tweets: dict[str, Tweet] = {}
        self.dms: dict[str, DmEvent] = {}
        self._last_id = 0

    # -- ids -------------------------------------------------------------------------------------

    def new_id(self, now: datetime) -> str:
        """A 19-digit snowflake from ``now``; strictly above every id issued or seeded so far."""
        snowflake = (int(now.timestamp() * 1000) - TWITTER_EPOCH_MS) << 22
        self._last_id = max(snowflake, self._last_id + 1)
        return str(self._last_id)

    def _seen_id(self, value: str) -> None:
        self._last_id = max(self._last_id, int(value))

    # -- users -----------------------------------------------------------------------------------

    def add_user(self, user: User) -> None:
        self.users[user.id] = user

    def user_by_username(self, username: str) -> User | None:
        wanted = username.lower()
        return next((u for u in self.users.values() if u.username.lower() == wanted), None)

    def username_ids(self) -> dict[str, str]:
        return {u.username.lower(): u.id for u in self.users.values()}

    # -- tweets ----------------------------------------------------------------------------------

    def add_tweet(
        self,
        tweet_id: str,
        author_id: str,
        text: str,
        created_at: datetime,
        in_reply_to_tweet_id: str | None,
        lang: str,
        via_api: bool = False,
    ) -> Tweet:
        """Store a tweet; conversation and replied-to user come from the parent when it is known."""
        if author_id not in self.users:
            raise KeyError(f"unknown author {author_id}: add_user() first")
        parent = self.tweets.get(in_reply_to_tweet_id) if in_reply_to_tweet_id else None
        if parent is not None:
            conversation, reply_user = parent.conversation_id, parent.author_id
        else:
            conversation, reply_user = in_reply_to_tweet_id or tweet_id, None
        tweet = Tweet(
            tweet_id,
            author_id,
            text,
            created_at.astimezone(UTC),
            conversation,
            in_reply_to_tweet_id,
            reply_user,
            lang,
            via_api=via_api,
        )
        self.tweets[tweet_id] = tweet
        self._seen_id(tweet_id)
        return tweet

    def live_tweet(self, tweet_id: str) -> Tweet | None:
        tweet = self.tweets.get(tweet_id)
        return tweet if tweet is not None and not tweet.deleted else None

    def mentions_of(self, user_id: str) -> list[Tweet]:
        """Live tweets whose text @mentions the user (case-insensitive), newest first."""
        user = self.users[user_id]
        name = user.username.lower()
        found = [
            t
            for t in self.tweets.values()
            if not t.deleted and name in (u.lower() for u in mentioned_usernames(t.text))
        ]
        return sorted(found, key=lambda t: int(t.id), reverse=True)

    def timeline_of(self, user_id: str) -> list[Tweet]:
        """The user's own live tweets, newest first."""
        found = [t for t in self.tweets.values() if not t.deleted and t.author_id == user_id]
        return sorted(found, key=lambda t: int(t.id), reverse=True)

    def reply_count(self, tweet_id: str) -> int:
        return sum(1 for t in self.tweets.values() if not t.deleted and t.in_reply_to_tweet_id == tweet_id)

    def tweet_count(self, user_id: str) -> int:
        return sum(1 for t in self.tweets.values() if not t.deleted and t.author_id == user_id)

    # -- direct messages -------------------------------------------------------------------------

    def add_dm(self, event: DmEvent) -> None:
        self.dms[event.id] = event
        self._seen_id(event.id)

    def dms_of(self, user_id: str, participant_id: str | None = None) -> list[DmEvent]:
        """DM events the user sent or received (optionally only with one participant), newest first."""
        found = [
            e
            for e in self.dms.values()
            if user_id in (e.sender_id, e.recipient_id)
            and (participant_id is None or e.involves(user_id, participant_id))
        ]
        return sorted(found, key=lambda e: int(e.id), reverse=True)
