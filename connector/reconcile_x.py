"""Fetch recent @mentions of the brand from the X API v2, as webhook records.

Each v2 tweet is rewritten into the v1.1 shape the Account Activity webhook delivers
(protocols.md B.3) and run through the webhook parser itself, so thread keys, kinds and
authors match a webhook for the same tweet exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import partial
from typing import Any

from connector.model import Interaction, parse_datetime
from connector.publish.x_api import XClient
from connector.reconcile_meta import Fetched, Progress
from webhooks.payload import Node
from webhooks.x_parse import Delivery, parse_tweet_create

#: X keeps only the 800 most recent mentions in this timeline anyway.
MAX_MENTIONS = 800
MENTION_PARAMS = {
    "max_results": 100,
    # note_tweet holds the whole text of posts longer than 280 characters; public_metrics
    # the replies, likes, retweets and quotes triage reads as engagement.
    "tweet.fields": (
        "created_at,author_id,conversation_id,in_reply_to_user_id,referenced_tweets,lang,entities,"
        "note_tweet,public_metrics"
    ),
    "expansions": "author_id",
    "user.fields": "username,name,verified,public_metrics",
}


def rfc3339(moment: datetime) -> str:
    """X's ``start_time`` format: whole seconds, UTC, ``Z``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def fetch_x_mentions(
    client: XClient,
    user_id: str,
    brand: frozenset[str],
    start: datetime,
    into: Fetched,
    progress: Progress,
) -> None:
    """Read every mention of ``user_id`` since ``start``, following ``next_token``."""
    params: dict[str, Any] = {**MENTION_PARAMS, "start_time": rfc3339(start)}
    delivery = Delivery(Node.root({"for_user_id": user_id}), user_id, brand)
    page_number = 0
    while into.scanned < MAX_MENTIONS:
        page_number += 1
        progress(f"x:{user_id}: mentions page {page_number}")
        body = client.get(f"/2/users/{user_id}/mentions", params)
        into.containers += 1
        includes = body.get("includes") if isinstance(body, Mapping) else None
        users = _users_by_id(includes.get("users") if isinstance(includes, Mapping) else None)
        tweets = body.get("data") if isinstance(body, Mapping) else None
        for index, tweet in enumerate(tweets if isinstance(tweets, list) else []):
            if not isinstance(tweet, dict):
                continue
            parse = partial(mention_interaction, delivery, tweet, users)
            into.add(parse, tweet, f"mentions page {page_number}[{index}]")
        meta = body.get("meta") if isinstance(body, Mapping) else None
        token = meta.get("next_token") if isinstance(meta, Mapping) else None
        if not token:
            return
        params["pagination_token"] = token


def _users_by_id(users: Any) -> dict[str, Mapping[str, Any]]:
    return {
        str(user["id"]): user
        for user in (users if isinstance(users, list) else [])
        if isinstance(user, Mapping) and user.get("id") is not None
    }


def mention_interaction(
    delivery: Delivery, tweet: Mapping[str, Any], users: Mapping[str, Mapping[str, Any]]
) -> Interaction | None:
    """Parse one v2 mention through the webhook's tweet parser; None for a plain retweet."""
    batch = parse_tweet_create(delivery, Node.root(v1_tweet(tweet, users)))
    return batch.interactions[0] if batch.interactions else None


def v1_tweet(tweet: Mapping[str, Any], users: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The v1.1 tweet object a webhook would carry for this v2 tweet (only what the parser reads)."""
    out: dict[str, Any] = {"id_str": tweet.get("id"), "text": tweet.get("text")}
    created = tweet.get("created_at")
    if isinstance(created, str):
        out["timestamp_ms"] = str(int(parse_datetime(created).timestamp() * 1000))
    lang = tweet.get("lang")
    if lang is not None:
        out["lang"] = lang
    author = users.get(str(tweet.get("author_id")))
    if author is not None:
        out["user"] = v1_user(author)
    for ref in tweet.get("referenced_tweets") or []:
        kind = ref.get("type") if isinstance(ref, Mapping) else None
        if kind == "replied_to":
            out["in_reply_to_status_id_str"] = ref.get("id")
        elif kind == "retweeted":
            out["retweeted_status"] = {"id_str": ref.get("id")}
        elif kind == "quoted":
            out["is_quote_status"] = True
            out["quoted_status_id_str"] = ref.get("id")
    if tweet.get("in_reply_to_user_id") is not None:
        out["in_reply_to_user_id_str"] = tweet["in_reply_to_user_id"]
    out["entities"] = {"user_mentions": _user_mentions(tweet.get("entities"))}
    note = tweet.get("note_tweet")
    if isinstance(note, Mapping) and isinstance(note.get("text"), str):
        # A post over 280 characters: the webhook carries it as extended_tweet.
        out["extended_tweet"] = {
            "full_text": note["text"],
            "entities": {"user_mentions": _user_mentions(note.get("entities"))},
        }
    out.update(_v1_counts(tweet.get("public_metrics")))
    return out


#: v2 ``public_metrics`` name → the v1.1 tweet's top-level name (what a webhook carries).
_V1_COUNTS = {
    "reply_count": "reply_count",
    "retweet_count": "retweet_count",
    "quote_count": "quote_count",
    "like_count": "favorite_count",
}


def _v1_counts(metrics: Any) -> dict[str, Any]:
    """The tweet's engagement counts under their v1.1 names; only the counts X sent."""
    if not isinstance(metrics, Mapping):
        return {}
    return {v1: metrics[v2] for v2, v1 in _V1_COUNTS.items() if metrics.get(v2) is not None}


def v1_user(user: Mapping[str, Any]) -> dict[str, Any]:
    """A v2 user as the webhook's ``user`` object (followers from ``public_metrics``)."""
    out: dict[str, Any] = {
        "id_str": user.get("id"),
        "screen_name": user.get("username"),
        "name": user.get("name"),
        "verified": user.get("verified"),
    }
    metrics = user.get("public_metrics")
    if isinstance(metrics, Mapping):
        out["followers_count"] = metrics.get("followers_count")
    return out


def _user_mentions(entities: Any) -> list[dict[str, Any]]:
    """v2 ``entities.mentions`` as v1.1 ``user_mentions``; mentions X could not resolve have no id."""
    mentions = entities.get("mentions") if isinstance(entities, Mapping) else None
    return [
        {"id_str": m["id"], "screen_name": m.get("username")}
        for m in (mentions if isinstance(mentions, list) else [])
        if isinstance(m, Mapping) and m.get("id") is not None
    ]
