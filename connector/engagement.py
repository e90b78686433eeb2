"""Engagement (replies, reactions, shares) as a triage input: reach, spreading, and its label.

Pure functions over :class:`connector.model.Engagement`. Unknown counts (``None``) are
never guessed: an interaction the platform sent no counts for has no engagement reach,
is not spreading, and gets no engagement words in its explanation.

* :func:`engagement_reach`: how many people visibly engaged, on a log scale in [0, 1],
  comparable with the follower reach (``triage.influence_score``).
* :func:`spreading`: the post is travelling (many shares, or a busy conversation); a
  risk input next to the spread words of the text and crisis membership.
* :func:`engagement_label`: the words for the explanation line ("120 replies, 3.4k reactions").
"""

from __future__ import annotations

import math

from connector.model import Engagement

#: Replies + reactions + shares at which engagement reach is 1.0 (log10 scale, so
#: 10 → 0.35, 100 → 0.67, 1,000 → 1.0). A thousand people answering, liking or sharing
#: a complaint is as visible as an author with a million followers.
REACH_CEILING = 1_000
#: Shares (retweets + quotes on X) from which a post is spreading: each share puts it in
#: front of a new audience, so a few dozen already carry it well beyond the author's.
SPREADING_SHARES = 50
#: Replies + reactions from which a post is spreading even without shares: a conversation
#: this busy is read by far more people than take part in it.
SPREADING_CONVERSATION = 100

_LOG_CEILING = math.log10(1 + REACH_CEILING)
# Engagement attribute (also the plural noun) → the singular noun.
_NOUNS = (("replies", "reply"), ("reactions", "reaction"), ("shares", "share"))


def engagement_reach(engagement: Engagement | None) -> float:
    """Return reach in [0, 1]: log10(1 + replies + reactions + shares) over log10(1 + 1,000).

    None or no known count gives 0.0 (unknown is not evidence of reach).
    """
    if engagement is None or not engagement.known:
        return 0.0
    return round(min(1.0, math.log10(1 + engagement.total) / _LOG_CEILING), 3)


def spreading(engagement: Engagement | None) -> bool:
    """True when the post is spreading: ≥ 50 shares, or ≥ 100 replies and reactions together.

    Unknown counts count as 0, so a Facebook comment (no counts in its webhook) is never
    spreading by engagement; its text and crisis membership still can be.
    """
    if engagement is None:
        return False
    conversation = (engagement.replies or 0) + (engagement.reactions or 0)
    return (engagement.shares or 0) >= SPREADING_SHARES or conversation >= SPREADING_CONVERSATION


def format_count(count: int) -> str:
    """Write a count the way the explanation line does: 950, 3.4k, 1.2M."""
    for divisor, suffix in ((1_000_000, "M"), (1_000, "k")):
        if count >= divisor:
            return f"{count / divisor:.1f}".removesuffix(".0") + suffix
    return str(count)


def engagement_label(engagement: Engagement | None) -> str | None:
    """Return e.g. ``"120 replies, 3.4k reactions"`` for the explanation, or None.

    Unknown parts are skipped, and so are zero counts: nearly every tweet reaches us a
    moment after it was posted, and "0 replies, 0 reactions, 0 shares" would only be noise.
    None when no part is known and positive.
    """
    if engagement is None:
        return None
    parts = []
    for plural, singular in _NOUNS:
        count = getattr(engagement, plural)
        if count:
            parts.append(f"{format_count(count)} {singular if count == 1 else plural}")
    return ", ".join(parts) or None
