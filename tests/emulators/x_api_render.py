"""Query-parameter validation and v2 response shapes (fields, expansions, includes, meta, paging).

X answers unknown parameters and bad values with a 400 listing every bad one, and returns only the
fields a request asked for; the emulator does both so a connector cannot rely on fields it never
requested or on parameters X would refuse.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from tests.emulators.x_api_errors import invalid_request, param_error, resource_not_found
from tests.emulators.x_api_store import DmEvent, Store, Tweet, User
from tests.emulators.x_api_text import entities


def _names(csv: str) -> frozenset[str]:
    return frozenset(csv.split(","))


TWEET_FIELDS = _names(
    "article,attachments,author_id,card_uri,community_id,context_annotations,conversation_id,created_at,"
    "display_text_range,edit_controls,edit_history_tweet_ids,entities,geo,id,in_reply_to_user_id,lang,"
    "media_metadata,non_public_metrics,note_tweet,organic_metrics,possibly_sensitive,promoted_metrics,"
    "public_metrics,referenced_tweets,reply_settings,scopes,source,text,withheld"
)
USER_FIELDS = _names(
    "affiliation,connection_status,created_at,description,entities,id,location,most_recent_tweet_id,name,"
    "pinned_tweet_id,profile_banner_url,profile_image_url,protected,public_metrics,receives_your_dm,"
    "subscription_type,url,username,verified,verified_type,withheld"
)
DM_EVENT_FIELDS = _names(
    "attachments,created_at,dm_conversation_id,entities,event_type,id,participant_ids,referenced_tweets,"
    "sender_id,text"
)
TWEET_EXPANSIONS = _names(
    "article.cover_media,article.media_entities,attachments.media_keys,attachments.media_source_tweet,"
    "attachments.poll_ids,author_id,edit_history_tweet_ids,entities.mentions.username,geo.place_id,"
    "in_reply_to_user_id,entities.note.mentions.username,referenced_tweets.id,"
    "referenced_tweets.id.attachments.media_keys,referenced_tweets.id.author_id"
)
USER_EXPANSIONS = frozenset({"affiliation.user_id", "most_recent_tweet_id", "pinned_tweet_id"})
DM_EXPANSIONS = frozenset({"attachments.media_keys", "participant_ids", "referenced_tweets.id", "sender_id"})
EVENT_TYPES = frozenset({"MessageCreate", "ParticipantsJoin", "ParticipantsLeave"})
EXCLUDES = frozenset({"replies", "retweets"})
MEDIA_PARAMS = frozenset({"media.fields", "place.fields", "poll.fields"})

_ID_PATTERN = "^[0-9]{1,19}$"


def iso(moment: datetime) -> str:
    """v2 timestamps: ``2025-03-17T12:00:00.000Z``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def is_snowflake(value: str) -> bool:
    return value.isascii() and value.isdigit() and 1 <= len(value) <= 19


def next_token(last_id: str) -> str:
    """An opaque token meaning "older than ``last_id``"."""
    return base64.b32encode(f"x{last_id}".encode()).decode().rstrip("=").lower()


def _decode_token(token: str) -> int | None:
    try:
        text = base64.b32decode(token.upper() + "=" * (-len(token) % 8)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    return int(text[1:]) if text.startswith("x") and is_snowflake(text[1:]) else None


class Params:
    """Validates one request's query; every problem found becomes one ``errors[]`` entry."""

    def __init__(self, query: dict[str, str], allowed: Iterable[str]) -> None:
        self.query = query
        self.errors: list[dict[str, Any]] = []
        names = sorted(set(allowed))
        for name, value in query.items():
            if name not in names:
                self.errors.append(
                    param_error(
                        name, value, f"The query parameter [{name}] is not one of [{','.join(names)}]"
                    )
                )

    def fields(self, name: str, allowed: frozenset[str]) -> list[str]:
        raw = self.query.get(name)
        if raw is None:
            return []
        values = [v for v in raw.split(",") if v]
        for value in values:
            if value not in allowed:
                choices = ",".join(sorted(allowed))
                message = f"The `{name}` query parameter value [{value}] is not one of [{choices}]"
                self.errors.append(param_error(name, value, message))
        return values

    def integer(self, name: str, low: int, high: int, default: int) -> int:
        raw = self.query.get(name)
        if raw is None:
            return default
        if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
            self.errors.append(
                param_error(
                    name, raw, f"The `{name}` query parameter value [{raw}] is not between {low} and {high}"
                )
            )
            return default
        return int(raw)

    def snowflake(self, name: str) -> int | None:
        raw = self.query.get(name)
        if raw is None:
            return None
        if not is_snowflake(raw):
            self.errors.append(
                param_error(
                    name, raw, f"The `{name}` query parameter value [{raw}] does not match {_ID_PATTERN}"
                )
            )
            return None
        return int(raw)

    def time(self, name: str) -> datetime | None:
        raw = self.query.get(name)
        if raw is None:
            return None
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None or "T" not in raw:
            self.errors.append(
                param_error(
                    name, raw, f"Invalid '{name}':'{raw}'. '{name}' must be a valid RFC 3339 date-time (UTC)."
                )
            )
            return None
        return moment

    def page_after(self) -> int | None:
        raw = self.query.get("pagination_token")
        if raw is None:
            return None
        decoded = _decode_token(raw)
        if decoded is None:
            self.errors.append(
                param_error(
                    "pagination_token",
                    raw,
                    f"The `pagination_token` query parameter value [{raw}] is not a valid pagination token",
                )
            )
        return decoded

    def check(self) -> None:
        if self.errors:
            raise invalid_request(self.errors)


def path_id(name: str, value: str) -> None:
    """Path ids are validated like query ids (same 400 body)."""
    if not is_snowflake(value):
        raise invalid_request(
            [
                param_error(
                    name, value, f"The `{name}` query parameter value [{value}] does not match {_ID_PATTERN}"
                )
            ]
        )


# -- objects ---------------------------------------------------------------------------------------


def user_json(store: Store, user: User, fields: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": user.id, "name": user.name, "username": user.username}
    for name in fields:
        if name == "created_at":
            out["created_at"] = iso(user.created_at)
        elif name == "description":
            out["description"] = user.description
        elif name == "protected":
            out["protected"] = user.protected
        elif name == "verified":
            out["verified"] = user.verified
        elif name == "verified_type":
            out["verified_type"] = "blue" if user.verified else "none"
        elif name == "public_metrics":
            out["public_metrics"] = {
                "followers_count": user.followers_count,
                "following_count": user.following_count,
                "tweet_count": store.tweet_count(user.id),
                "listed_count": user.listed_count,
            }
        elif name == "profile_image_url":
            out["profile_image_url"] = f"https://pbs.twimg.com/profile_images/{user.id}/avatar_normal.jpg"
        elif name == "url":
            out["url"] = ""
        elif name == "most_recent_tweet_id":
            latest = store.timeline_of(user.id)
            if latest:
                out["most_recent_tweet_id"] = latest[0].id
    return out


def tweet_json(store: Store, tweet: Tweet, fields: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": tweet.id, "text": tweet.text, "edit_history_tweet_ids": [tweet.id]}
    for name in fields:
        if name == "author_id":
            out["author_id"] = tweet.author_id
        elif name == "conversation_id":
            out["conversation_id"] = tweet.conversation_id
        elif name == "created_at":
            out["created_at"] = iso(tweet.created_at)
        elif name == "in_reply_to_user_id" and tweet.in_reply_to_user_id:
            out["in_reply_to_user_id"] = tweet.in_reply_to_user_id
        elif name == "lang":
            out["lang"] = tweet.lang
        elif name == "entities":
            found = entities(tweet.text, store.username_ids())
            if found:
                out["entities"] = found
        elif name == "public_metrics":
            out["public_metrics"] = {
                "retweet_count": 0,
                "reply_count": store.reply_count(tweet.id),
                "like_count": 0,
                "quote_count": 0,
                "bookmark_count": 0,
                "impression_count": 0,
            }
        elif name == "referenced_tweets" and tweet.in_reply_to_tweet_id:
            out["referenced_tweets"] = [{"type": "replied_to", "id": tweet.in_reply_to_tweet_id}]
        elif name == "possibly_sensitive":
            out["possibly_sensitive"] = False
        elif name == "reply_settings":
            out["reply_settings"] = "everyone"
        elif name == "edit_controls":
            out["edit_controls"] = {
                "edits_remaining": 5,
                "is_edit_eligible": True,
                "editable_until": iso(tweet.created_at + timedelta(hours=1)),
            }
    return out


def dm_json(store: Store, event: DmEvent, fields: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": event.id, "event_type": "MessageCreate", "text": event.text}
    for name in fields:
        if name == "created_at":
            out["created_at"] = iso(event.created_at)
        elif name == "sender_id":
            out["sender_id"] = event.sender_id
        elif name == "dm_conversation_id":
            out["dm_conversation_id"] = event.conversation_id
        elif name == "entities":
            found = entities(event.text, store.username_ids())
            if found:
                out["entities"] = found
    return out


# -- includes --------------------------------------------------------------------------------------


class Includes:
    """Collects expanded users and tweets (first appearance order, no duplicates) and missing ones."""

    def __init__(self, store: Store, user_fields: Sequence[str], tweet_fields: Sequence[str]) -> None:
        self.store = store
        self.user_fields = user_fields
        self.tweet_fields = tweet_fields
        self.users: dict[str, dict[str, Any]] = {}
        self.tweets: dict[str, dict[str, Any]] = {}
        self.errors: list[dict[str, Any]] = []

    def add_user(self, user_id: str | None) -> None:
        user = self.store.users.get(user_id) if user_id else None
        if user is not None and user.id not in self.users:
            self.users[user.id] = user_json(self.store, user, self.user_fields)

    def expand_tweets(self, tweets: Sequence[Tweet], expansions: Sequence[str]) -> None:
        for tweet in tweets:
            if "author_id" in expansions:
                self.add_user(tweet.author_id)
            if "in_reply_to_user_id" in expansions:
                self.add_user(tweet.in_reply_to_user_id)
            if "entities.mentions.username" in expansions:
                for mention in entities(tweet.text, self.store.username_ids()).get("mentions", []):
                    self.add_user(mention.get("id"))
            parent_id = tweet.in_reply_to_tweet_id
            if parent_id and {"referenced_tweets.id", "referenced_tweets.id.author_id"} & set(expansions):
                parent = self.store.live_tweet(parent_id)
                if parent is None:
                    error = resource_not_found("tweet", "referenced_tweets.id", parent_id)
                    if error not in self.errors:
                        self.errors.append(error)
                    continue
                if "referenced_tweets.id" in expansions and parent.id not in self.tweets:
                    self.tweets[parent.id] = tweet_json(self.store, parent, self.tweet_fields)
                if "referenced_tweets.id.author_id" in expansions:
                    self.add_user(parent.author_id)

    def expand_dms(self, events: Sequence[DmEvent], expansions: Sequence[str]) -> None:
        for event in events:
            if "sender_id" in expansions:
                self.add_user(event.sender_id)
            if "participant_ids" in expansions:
                self.add_user(event.recipient_id)

    def attach(self, body: dict[str, Any]) -> dict[str, Any]:
        """Add ``includes`` (and ``errors`` for missing expansions) to a response body when non-empty."""
        includes: dict[str, Any] = {}
        if self.users:
            includes["users"] = list(self.users.values())
        if self.tweets:
            includes["tweets"] = list(self.tweets.values())
        if includes:
            body["includes"] = includes
        if self.errors:
            body.setdefault("errors", []).extend(self.errors)
        return body


# -- timelines -------------------------------------------------------------------------------------

TIMELINE_PARAMS = frozenset(
    {
        "since_id",
        "until_id",
        "start_time",
        "end_time",
        "max_results",
        "pagination_token",
        "exclude",
        "tweet.fields",
        "expansions",
        "user.fields",
    }
    | MEDIA_PARAMS
)


def timeline(store: Store, tweets: list[Tweet], query: dict[str, str]) -> dict[str, Any]:
    """Filter, page and render a newest-first tweet list the way ``/mentions`` and ``/tweets`` do."""
    params = Params(query, TIMELINE_PARAMS)
    since_id, until_id = params.snowflake("since_id"), params.snowflake("until_id")
    start, end = params.time("start_time"), params.time("end_time")
    max_results = params.integer("max_results", 5, 100, 10)
    after = params.page_after()
    exclude = params.fields("exclude", EXCLUDES)
    tweet_fields = params.fields("tweet.fields", TWEET_FIELDS)
    expansions = params.fields("expansions", TWEET_EXPANSIONS)
    user_fields = params.fields("user.fields", USER_FIELDS)
    params.check()

    def keep(t: Tweet) -> bool:
        n = int(t.id)
        return (
            (since_id is None or n > since_id)
            and (until_id is None or n < until_id)
            and (after is None or n < after)
            and (start is None or t.created_at >= start)
            and (end is None or t.created_at <= end)
            and not ("replies" in exclude and t.in_reply_to_tweet_id)
        )

    matching = [t for t in tweets if keep(t)]
    page = matching[:max_results]
    if not page:
        return {"meta": {"result_count": 0}}
    includes = Includes(store, user_fields, tweet_fields)
    includes.expand_tweets(page, expansions)
    meta: dict[str, Any] = {"result_count": len(page), "newest_id": page[0].id, "oldest_id": page[-1].id}
    if len(matching) > max_results:
        meta["next_token"] = next_token(page[-1].id)
    body: dict[str, Any] = {"data": [tweet_json(store, t, tweet_fields) for t in page]}
    includes.attach(body)
    body["meta"] = meta
    return body


DM_PARAMS = frozenset(
    {"dm_event.fields", "event_types", "expansions", "max_results", "pagination_token", "user.fields"}
    | {"tweet.fields"}
    | MEDIA_PARAMS
)


def dm_page(store: Store, events: list[DmEvent], query: dict[str, str]) -> dict[str, Any]:
    """Page and render newest-first DM events (``dm_events`` endpoints: 1 to 100, default 100)."""
    params = Params(query, DM_PARAMS)
    fields = params.fields("dm_event.fields", DM_EVENT_FIELDS)
    event_types = params.fields("event_types", EVENT_TYPES)
    expansions = params.fields("expansions", DM_EXPANSIONS)
    user_fields = params.fields("user.fields", USER_FIELDS)
    tweet_fields = params.fields("tweet.fields", TWEET_FIELDS)
    max_results = params.integer("max_results", 1, 100, 100)
    after = params.page_after()
    params.check()
    if event_types and "MessageCreate" not in event_types:
        events = []
    matching = [e for e in events if after is None or int(e.id) < after]
    page = matching[:max_results]
    if not page:
        return {"meta": {"result_count": 0}}
    includes = Includes(store, user_fields, tweet_fields)
    includes.expand_dms(page, expansions)
    meta: dict[str, Any] = {"result_count": len(page)}
    if len(matching) > max_results:
        meta["next_token"] = next_token(page[-1].id)
    body: dict[str, Any] = {"data": [dm_json(store, e, fields) for e in page]}
    includes.attach(body)
    body["meta"] = meta
    return body
