"""Turn an X Account Activity API delivery into canonical records.

Pure functions, no Flask. A delivery is ``for_user_id`` (the subscribed brand account)
plus one array of events (protocols.md B.3). Always the ``*_str`` ids: 64-bit integers
lose precision in JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connector.model import (
    Author,
    Engagement,
    InboundBatch,
    Interaction,
    Removal,
    thread_key_for,
    utcnow,
)
from webhooks.payload import Node, ignored, merge_batches

X = "x"
_TWEET_TIME_FORMAT = "%a %b %d %H:%M:%S %z %Y"
# Top-level keys that describe the delivery rather than carry events.
_ENVELOPE_KEYS = frozenset({"for_user_id", "user_has_blocked", "users", "apps", "source"})


@dataclass(frozen=True, slots=True)
class Delivery:
    """What every event of one delivery shares."""

    root: Node
    for_user_id: str
    brand_ids: frozenset[str]

    def is_brand(self, user_id: str) -> bool:
        return user_id in self.brand_ids


EventParser = Callable[[Delivery, Node], InboundBatch]


def parse_x(payload: Mapping[str, Any], brand_user_ids: Iterable[str]) -> InboundBatch:
    """Parse every event array of an X delivery; unknown arrays are only listed as ignored."""
    root = Node.root(payload)
    for_user_id = root.string("for_user_id")
    # The subscribed account is always "us", even if the configuration forgot it.
    delivery = Delivery(root, for_user_id, frozenset(brand_user_ids) | {for_user_id})
    batches = []
    for key in payload:
        if key in _ENVELOPE_KEYS:
            continue
        parser = EVENT_PARSERS.get(key)
        if parser is not None:
            batches += [parser(delivery, event) for event in root.objects(key)]
        elif key in IGNORED_EVENTS:
            batches.append(ignored(f"{key}: {IGNORED_EVENTS[key]}"))
        else:
            batches.append(ignored(f"{key}: unknown event"))
    return merge_batches(batches)


# --- tweets ------------------------------------------------------------------------------


def parse_tweet_create(delivery: Delivery, tweet: Node) -> InboundBatch:
    """Parse one tweet: a mention, a reply, a quote, or one of the brand's own tweets."""
    tweet_id = tweet.string("id_str")
    user = tweet.obj("user")
    if tweet.has("retweeted_status") and not tweet.optional_bool("is_quote_status"):
        # A plain retweet repeats someone else's words: noise, never a ticket.
        return ignored(f"tweet_create_events: {tweet_id} is a retweet")
    author = _tweet_author(user)
    # X sends the brand's own tweets and replies as tweet_create_events too.
    from_brand = delivery.is_brand(author.platform_user_id)
    replied_to = tweet.optional_string("in_reply_to_status_id_str")
    if from_brand and replied_to is None:
        kind = "post"
    elif _mentions(tweet) & delivery.brand_ids:
        kind = "mention"
    else:
        kind = "comment"
    language = tweet.optional_string("lang")
    interaction = Interaction(
        platform=X,
        kind=kind,
        external_id=tweet_id,
        # One event cannot follow a reply chain to its root, so the thread is keyed by the
        # tweet replied to (or the tweet itself when it replies to nothing).
        thread_key=thread_key_for(X, delivery.for_user_id, replied_to or tweet_id),
        parent_external_id=replied_to,
        brand_account_id=delivery.for_user_id,
        author=author,
        text=_tweet_text(tweet),
        # "und" is X saying it could not tell; let our own language detection decide.
        language=None if language in (None, "und") else language,
        created_at=_tweet_time(tweet),
        permalink=f"https://x.com/{author.handle}/status/{tweet_id}",
        raw=tweet.raw,
        from_brand=from_brand,
        engagement=tweet_engagement(tweet.value),
    )
    return InboundBatch(interactions=(interaction,))


def tweet_engagement(tweet: Mapping[str, Any]) -> Engagement | None:
    """The tweet's own counts: v2 ``public_metrics`` first, else the v1.1 top-level counts.

    v1.1 (Account Activity) tweets carry ``reply_count``, ``retweet_count``, ``quote_count``
    and ``favorite_count``; v2 tweets the same inside ``public_metrics``, with ``like_count``
    for favourites. Shares are retweets plus quotes. A count that is missing or not a
    non-negative integer is unknown: counts are never worth refusing a delivery over, and
    the counts of a retweeted or quoted tweet (nested objects) are not this tweet's.
    """
    metrics = tweet.get("public_metrics")
    v2 = metrics if isinstance(metrics, Mapping) else {}

    def count(v2_key: str, v1_key: str) -> int | None:
        found = _count(v2.get(v2_key))
        return found if found is not None else _count(tweet.get(v1_key))

    retweets, quotes = count("retweet_count", "retweet_count"), count("quote_count", "quote_count")
    shares = None if retweets is None and quotes is None else (retweets or 0) + (quotes or 0)
    return Engagement.of(
        replies=count("reply_count", "reply_count"),
        reactions=count("like_count", "favorite_count"),
        shares=shares,
    )


def _count(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def _tweet_author(user: Node) -> Author:
    screen_name = user.string("screen_name")
    return Author(
        platform=X,
        platform_user_id=user.string("id_str"),
        handle=screen_name,
        display_name=user.optional_string("name"),
        followers_count=user.optional_int("followers_count"),
        verified=bool(user.optional_bool("verified")),
        profile_url=f"https://x.com/{screen_name}",
    )


def _tweet_text(tweet: Node) -> str:
    """Texts over 140 characters arrive truncated, with the whole text in extended_tweet."""
    extended = tweet.optional_obj("extended_tweet")
    text = (
        (extended.optional_string("full_text") if extended else None)
        or tweet.optional_string("full_text")
        or tweet.optional_string("text")
    )
    if text is None:
        raise tweet.fail("text", "required field is missing")
    return text


def _mentions(tweet: Node) -> set[str]:
    """User ids @mentioned; mentions past 140 characters are only in extended_tweet.entities."""
    holders = [tweet, tweet.optional_obj("extended_tweet")]
    found: set[str] = set()
    for holder in holders:
        entities = holder.optional_obj("entities") if holder else None
        if entities is not None:
            found |= {m.string("id_str") for m in entities.optional_objects("user_mentions")}
    return found


def _tweet_time(tweet: Node) -> datetime:
    stamped = tweet.optional_time_digits("timestamp_ms", 1000)
    if stamped is not None:
        return stamped
    created = tweet.optional_string("created_at")
    if created is None:
        return utcnow()
    try:
        return datetime.strptime(created, _TWEET_TIME_FORMAT)
    except ValueError:
        raise tweet.fail("created_at", "expected a date like 'Mon Mar 17 12:00:00 +0000 2025'") from None


def parse_tweet_delete(delivery: Delivery, event: Node) -> InboundBatch:
    """A deleted tweet: mark what we stored as removed."""
    status = event.obj("status")
    occurred_at = event.optional_time_digits("timestamp_ms", 1000) or utcnow()
    return InboundBatch(removals=(Removal(X, status.string("id"), occurred_at),))


# --- direct messages ----------------------------------------------------------------------


def parse_direct_message(delivery: Delivery, event: Node) -> InboundBatch:
    """Parse one ``direct_message_events`` item of type ``message_create``."""
    event_type = event.string("type")
    if event_type != "message_create":
        return ignored(f"direct_message_events: type {event_type!r} is not a message")
    message_id = event.string("id")
    created = event.obj("message_create")
    sender_id = created.string("sender_id")
    recipient_id = created.obj("target").string("recipient_id")
    # Our own outbound DMs come back as events too (sender = the brand).
    from_brand = delivery.is_brand(sender_id)
    customer_id = recipient_id if from_brand else sender_id
    created_at = event.optional_time_digits("created_timestamp", 1000)
    if created_at is None:
        raise event.fail("created_timestamp", "required field is missing")
    interaction = Interaction(
        platform=X,
        kind="direct_message",
        external_id=message_id,
        # One conversation per customer and brand account.
        thread_key=thread_key_for(X, delivery.for_user_id, customer_id),
        brand_account_id=delivery.for_user_id,
        author=_dm_author(delivery.root, sender_id),
        text=_dm_text(created.obj("message_data")),
        created_at=created_at,
        raw=event.raw,
        from_brand=from_brand,
    )
    return InboundBatch(interactions=(interaction,))


def _dm_text(data: Node) -> str:
    lines = [data.optional_string("text") or ""]
    attachment = data.optional_obj("attachment")
    media = attachment.optional_obj("media") if attachment else None
    if media is not None:
        url = media.optional_string("media_url_https")
        lines.append(f"[{media.optional_string('type') or 'media'}: {url}]" if url else "[media]")
    return "\n".join(line for line in lines if line)


def _dm_author(root: Node, user_id: str) -> Author:
    """Find the sender in the top-level ``users`` map.

    X's own doc example nests ``users`` inside ``apps`` by mistake, so that place is
    searched too; a sender found nowhere still gets an author with its id.
    """
    apps = root.optional_obj("apps")
    app_nodes = [apps.optional_obj(app_id) for app_id in apps.value] if apps else []
    maps = [root.optional_obj("users"), *(app.optional_obj("users") for app in app_nodes if app)]
    for users in maps:
        found = users.optional_obj(user_id) if users else None
        if found is not None:
            screen_name = found.optional_string("screen_name")
            return Author(
                platform=X,
                platform_user_id=user_id,
                handle=screen_name,
                display_name=found.optional_string("name"),
                followers_count=found.optional_int("followers_count"),
                verified=bool(found.optional_bool("verified")),
                profile_url=f"https://x.com/{screen_name}" if screen_name else None,
            )
    return Author(platform=X, platform_user_id=user_id)


EVENT_PARSERS: dict[str, EventParser] = {
    "tweet_create_events": parse_tweet_create,
    "tweet_delete_events": parse_tweet_delete,
    "direct_message_events": parse_direct_message,
}

IGNORED_EVENTS: dict[str, str] = {
    "favorite_events": "likes are not conversations",
    "follow_events": "follows are not conversations",
    "block_events": "blocks are not conversations",
    "mute_events": "mutes are not conversations",
    "user_event": "app permission revocations are handled by operators",
    "direct_message_indicate_typing_events": "typing indicators are not messages",
    "direct_message_mark_read_events": "read receipts are not messages",
}
