"""Turn a Meta webhook delivery (Facebook Pages, Messenger, Instagram) into canonical records.

Pure functions, no Flask. One delivery may carry several entries, each with several
changes or messaging events (protocols.md A.3): every one of them is read. Events we do
not turn into interactions are listed in ``InboundBatch.ignored`` with the reason; the
caller still stores the raw delivery and answers 200, so Meta never retries them.
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

FACEBOOK, MESSENGER, INSTAGRAM = "facebook", "messenger", "instagram"


@dataclass(frozen=True, slots=True)
class EntryContext:
    """What every event of one ``entry`` shares: the object, the account and who counts as us."""

    object: str
    entry: Node
    account_id: str
    brand_ids: frozenset[str]

    def is_brand(self, user_id: str | None) -> bool:
        return user_id is not None and user_id in self.brand_ids

    def sent_at(self, unit: float) -> datetime:
        """When Meta sent the entry; the fallback when an event carries no time of its own.

        ``entry.time`` is unix seconds for ``changes`` and milliseconds for ``messaging``.
        """
        return self.entry.optional_time("time", unit) or utcnow()


EventParser = Callable[[EntryContext, Node], InboundBatch]


def parse_meta(payload: Mapping[str, Any], brand_account_ids: Iterable[str]) -> InboundBatch:
    """Parse every entry of a Meta delivery; unknown objects and fields are only listed as ignored."""
    root = Node.root(payload)
    obj = root.string("object")
    if obj not in SUBSCRIBED_OBJECTS:
        return ignored(f"object {obj!r} is not subscribed to")
    brand = frozenset(brand_account_ids)
    batches = []
    for entry in root.objects("entry"):
        account_id = entry.string("id")
        # The Page / IG account itself is always "us", even if the configuration forgot it.
        ctx = EntryContext(obj, entry, account_id, brand | {account_id})
        batches.append(parse_entry(ctx))
    return merge_batches(batches)


def parse_entry(ctx: EntryContext) -> InboundBatch:
    """Dispatch each change and messaging event of one entry through ``EVENT_PARSERS``."""
    entry = ctx.entry
    changes = entry.optional_objects("changes")
    if not changes and entry.has("field"):
        # Meta's own example pages put field/value directly in the entry (A.5): parse both.
        changes = [entry]
    batches = [_dispatch(ctx, change.string("field"), change.obj("value")) for change in changes]
    batches += [_dispatch(ctx, "messaging", event) for event in entry.optional_objects("messaging")]
    batches += [_dispatch(ctx, "standby", event) for event in entry.optional_objects("standby")]
    return merge_batches(batches)


def _dispatch(ctx: EntryContext, field: str, node: Node) -> InboundBatch:
    key = f"{ctx.object}.{field}"
    parser = EVENT_PARSERS.get(key)
    if parser is not None:
        return parser(ctx, node)
    if key in IGNORED_EVENTS:
        return ignored(f"{key}: {IGNORED_EVENTS[key]}")
    return ignored(f"{key}: unknown field")


# --- Facebook Page feed -----------------------------------------------------------------

# verb → what it means for a comment we may have stored. "hide" and friends are moderation
# actions by the Page itself, not something the customer said.
_COMMENT_ADD = frozenset({"add"})
_COMMENT_EDIT = frozenset({"edited", "edit"})
_COMMENT_REMOVE = frozenset({"remove", "delete"})


def parse_feed_change(ctx: EntryContext, value: Node) -> InboundBatch:
    """Parse a Page ``feed`` (or ``group_feed``) change; only comment events become interactions."""
    item = value.string("item")
    verb = value.string("verb")
    if item != "comment":
        return ignored(f"{ctx.object}.feed: item {item!r} ({verb}) is not a comment")
    comment_id = value.string("comment_id")
    created_at = value.optional_time("created_time") or ctx.sent_at(1)
    if verb in _COMMENT_REMOVE:
        # A removal carries little more than ids; it only marks what we stored.
        return InboundBatch(removals=(Removal(FACEBOOK, comment_id, created_at),))
    if verb not in _COMMENT_ADD | _COMMENT_EDIT:
        return ignored(f"{ctx.object}.feed: comment verb {verb!r} is not handled")
    comment = _facebook_comment(ctx, value, comment_id, created_at)
    if verb in _COMMENT_EDIT:
        return InboundBatch(edits=(comment,))
    return InboundBatch(interactions=(comment,))


def _facebook_comment(ctx: EntryContext, value: Node, comment_id: str, created_at: datetime) -> Interaction:
    post_id = value.string("post_id")
    author = _facebook_author(value.optional_obj("from"))
    post = value.optional_obj("post")
    return Interaction(
        platform=FACEBOOK,
        kind="comment",
        external_id=comment_id,
        # Keyed by the post, not the parent comment: a reply to a reply lands on the same ticket.
        thread_key=thread_key_for(FACEBOOK, ctx.account_id, post_id),
        # parent_id equals post_id for a top-level comment, a comment id for a reply.
        parent_external_id=value.optional_string("parent_id"),
        brand_account_id=ctx.account_id,
        author=author,
        # Sticker- and photo-only comments come without a message.
        text=value.optional_string("message") or "",
        created_at=created_at,
        permalink=post.optional_string("permalink_url") if post else None,
        raw=value.raw,
        # The Page's own replies come back as comments too; never a ticket for them.
        from_brand=ctx.is_brand(author.platform_user_id),
        engagement=comment_engagement(value.value),
    )


def comment_engagement(value: Mapping[str, Any]) -> Engagement | None:
    """A comment's counts, when the value holds the Graph API's (a reconciled comment).

    Comment webhooks carry no counts at all, so a webhook's comment has no engagement
    (None, never 0). A comment read back from Graph may have ``comment_count`` (replies),
    ``like_count`` and ``reactions.summary.total_count`` (likes plus every other reaction,
    preferred when present). Comments have no share count. A count that is not a
    non-negative integer is unknown: it is never worth refusing a delivery over.
    """
    reactions = value.get("reactions")
    summary = reactions.get("summary") if isinstance(reactions, Mapping) else None
    total = _count(summary.get("total_count")) if isinstance(summary, Mapping) else None
    return Engagement.of(
        replies=_count(value.get("comment_count")),
        reactions=total if total is not None else _count(value.get("like_count")),
    )


def _count(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def _facebook_author(sender: Node | None) -> Author:
    if sender is None:
        # Meta leaves out "from" when the app may not read the commenter (unconfirmed):
        # keep the comment, with an author nobody can be matched to.
        return Author(platform=FACEBOOK, platform_user_id="")
    return Author(
        platform=FACEBOOK,
        platform_user_id=sender.string("id"),
        display_name=sender.optional_string("name"),
    )


# --- Instagram comments and mentions ----------------------------------------------------


def parse_instagram_comment(ctx: EntryContext, value: Node) -> InboundBatch:
    """Parse an Instagram ``comments`` / ``live_comments`` change."""
    comment_id = value.string("id")
    sender = value.obj("from")
    username = sender.optional_string("username")
    media = value.optional_obj("media")
    parent_id = value.optional_string("parent_id")
    # Threads are keyed by the media, so replies to replies share one ticket; without a
    # media id (never seen, but not promised) the parent comment is the best root we have.
    root = (media.optional_string("id") if media else None) or parent_id or comment_id
    author = Author(
        platform=INSTAGRAM,
        platform_user_id=sender.string("id"),
        handle=username,
        profile_url=f"https://www.instagram.com/{username}/" if username else None,
    )
    comment = Interaction(
        platform=INSTAGRAM,
        kind="comment",
        external_id=comment_id,
        thread_key=thread_key_for(INSTAGRAM, ctx.account_id, root),
        parent_external_id=parent_id,
        brand_account_id=ctx.account_id,
        author=author,
        text=value.optional_string("text") or "",
        created_at=value.optional_time("created_time") or ctx.sent_at(1),
        raw=value.raw,
        from_brand=ctx.is_brand(author.platform_user_id),
        # None for a webhook; a comment read back from Graph may carry like_count.
        engagement=comment_engagement(value.value),
    )
    return InboundBatch(interactions=(comment,))


def parse_instagram_mention(ctx: EntryContext, value: Node) -> InboundBatch:
    """Parse an Instagram ``mentions`` change: an @mention of us in someone else's media.

    The payload has no text and no author (they are fetched later with the
    ``mentioned_comment`` / ``mentioned_media`` edges), so the text is empty and the author
    id is empty; ``raw`` keeps the ids needed to fetch and to reply.
    """
    media_id = value.string("media_id")
    # comment_id is absent when the mention is in the caption of the media itself.
    comment_id = value.optional_string("comment_id")
    mention = Interaction(
        platform=INSTAGRAM,
        kind="mention",
        external_id=comment_id or media_id,
        thread_key=thread_key_for(INSTAGRAM, ctx.account_id, media_id),
        parent_external_id=media_id if comment_id else None,
        brand_account_id=ctx.account_id,
        author=Author(platform=INSTAGRAM, platform_user_id=""),
        text="",
        created_at=ctx.sent_at(1),
        raw=value.raw,
    )
    return InboundBatch(interactions=(mention,))


# --- Messenger and Instagram messaging ----------------------------------------------------

IGNORED_MESSAGING_EVENTS: dict[str, str] = {
    "postback": "button taps are not messages",
    "read": "read receipts are not messages",
    "delivery": "delivery receipts are not messages",
    "reaction": "reactions are not messages",
    "referral": "referrals are not messages",
    "optin": "opt-ins are not messages",
}


def parse_messaging_event(ctx: EntryContext, event: Node) -> InboundBatch:
    """Parse one Messenger / Instagram ``messaging`` event; only ``message`` events are kept."""
    platform = INSTAGRAM if ctx.object == "instagram" else MESSENGER
    message = event.optional_obj("message")
    if message is None:
        kind = next((key for key in IGNORED_MESSAGING_EVENTS if event.has(key)), None)
        if kind is None:
            return ignored(f"{ctx.object}.messaging: unknown event")
        return ignored(f"{ctx.object}.messaging: {kind}: {IGNORED_MESSAGING_EVENTS[kind]}")
    sender_id = event.obj("sender").string("id")
    recipient_id = event.obj("recipient").string("id")
    mid = message.string("mid")
    created_at = event.optional_time("timestamp", 1000) or ctx.sent_at(1000)
    if message.optional_bool("is_deleted"):
        # Instagram reports an unsent message as a message flagged is_deleted (unconfirmed).
        return InboundBatch(removals=(Removal(platform, mid, created_at),))
    # Our own outbound messages are echoed back (is_echo, sender = the Page): kept for the
    # thread history but marked, so they never become a ticket.
    from_brand = bool(message.optional_bool("is_echo")) or ctx.is_brand(sender_id)
    customer_id = recipient_id if from_brand else sender_id
    reply_to = message.optional_obj("reply_to")
    interaction = Interaction(
        platform=platform,
        kind="direct_message",
        external_id=mid,
        # One conversation per customer and Page/IG account: the customer's scoped id.
        thread_key=thread_key_for(platform, ctx.account_id, customer_id),
        parent_external_id=reply_to.optional_string("mid") if reply_to else None,
        brand_account_id=ctx.account_id,
        author=Author(platform=platform, platform_user_id=sender_id),
        text=_message_text(message),
        created_at=created_at,
        raw=event.raw,
        from_brand=from_brand,
    )
    return InboundBatch(interactions=(interaction,))


def _message_text(message: Node) -> str:
    """The text, plus one line per attachment so an agent sees that a photo was sent."""
    lines = [message.optional_string("text") or ""]
    for attachment in message.optional_objects("attachments"):
        kind = attachment.optional_string("type") or "file"
        payload = attachment.optional_obj("payload")
        url = payload.optional_string("url") if payload else None
        lines.append(f"[{kind}: {url}]" if url else f"[{kind}]")
    return "\n".join(line for line in lines if line)


SUBSCRIBED_OBJECTS = frozenset({"page", "instagram"})

EVENT_PARSERS: dict[str, EventParser] = {
    "page.feed": parse_feed_change,
    # Posts and comments in groups the Page belongs to: the same keys plus group_id.
    "page.group_feed": parse_feed_change,
    "page.messaging": parse_messaging_event,
    "instagram.comments": parse_instagram_comment,
    "instagram.live_comments": parse_instagram_comment,
    "instagram.mentions": parse_instagram_mention,
    "instagram.messaging": parse_messaging_event,
}

IGNORED_EVENTS: dict[str, str] = {
    "page.standby": "standby events belong to the app that owns the conversation (handover)",
    "instagram.standby": "standby events belong to the app that owns the conversation (handover)",
}
