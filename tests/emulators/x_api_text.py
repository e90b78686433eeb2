"""Tweet text rules the emulator enforces: twitter-text v3 weighted length and v2 ``entities``.

X refuses a post whose *weighted* length exceeds 280, so a connector that counts ``len(text)``
passes its own checks and still fails in production on emoji-, CJK- or URL-heavy replies.
The emulator reproduces the weighting so such tests fail locally instead.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

MAX_WEIGHTED_LENGTH = 280
URL_WEIGHT = 23  # every URL counts as a t.co link, whatever its real length

# twitter-text v3 ("config/v3.json"): these code point ranges weigh 1, everything else 2.
_LIGHT_RANGES = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))

_TLDS = "com|net|org|io|co|es|mx|ar|cl|pe|uk|de|fr|it|nl|ly|gl|me|app|dev|info|biz|us|ca|eu"
URL_RE = re.compile(
    rf"(?<![\w@.#/])(?:https?://[^\s<>\"]+|(?:www\.)?(?:[a-z0-9-]+\.)+(?:{_TLDS})(?![\w-])(?:[/?#][^\s<>\"]*)?)",
    re.IGNORECASE,
)
_TRAILING = ".,;:!?'\")]}"
MENTION_RE = re.compile(r"(?<![\w@])@(\w{1,15})(?!\w)")
HASHTAG_RE = re.compile(r"(?<![\w#&])#(\w*[^\W\d_]\w*)")

_ZWJ = 0x200D


def _is_emoji_base(cp: int) -> bool:
    return (
        0x1F000 <= cp <= 0x1FAFF
        or 0x2600 <= cp <= 0x27BF
        or 0x2300 <= cp <= 0x23FF
        or 0x2B00 <= cp <= 0x2BFF
        or cp in (0x00A9, 0x00AE, 0x203C, 0x2049, 0x2122, 0x2139, 0x3030, 0x303D, 0x3297, 0x3299)
    )


def _is_emoji_modifier(cp: int) -> bool:
    """Code points that extend the emoji before them without being counted on their own."""
    return cp in (0xFE0F, 0xFE0E, 0x20E3) or 0x1F3FB <= cp <= 0x1F3FF or 0xE0020 <= cp <= 0xE007F


def _is_regional(cp: int) -> bool:
    return 0x1F1E6 <= cp <= 0x1F1FF


def _char_weight(cp: int) -> int:
    return 1 if any(lo <= cp <= hi for lo, hi in _LIGHT_RANGES) else 2


def find_urls(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, url)`` for every URL twitter-text would auto-link (trailing punctuation excluded)."""
    found = []
    for match in URL_RE.finditer(text):
        url = match.group(0).rstrip(_TRAILING)
        if url:
            found.append((match.start(), match.start() + len(url), url))
    return found


def _emoji_cluster_end(cps: list[int], i: int) -> int:
    """Index just past the emoji sequence starting at ``i`` (``i`` itself if none starts there)."""
    n = len(cps)
    cp = cps[i]
    keycap = (
        cp < 128
        and chr(cp) in "#*0123456789"
        and (cps[i + 1 : i + 2] == [0x20E3] or cps[i + 1 : i + 3] == [0xFE0F, 0x20E3])
    )
    if _is_regional(cp):
        return i + 2 if i + 1 < n and _is_regional(cps[i + 1]) else i + 1
    if not (_is_emoji_base(cp) or keycap):
        return i
    if cp in (0x00A9, 0x00AE) and not (i + 1 < n and cps[i + 1] == 0xFE0F):
        return i  # a bare © or ® is text (weight 1), not emoji
    j = i + 1
    while j < n:
        if _is_emoji_modifier(cps[j]):
            j += 1
        elif cps[j] == _ZWJ and j + 1 < n and _is_emoji_base(cps[j + 1]):
            j += 2
        else:
            break
    return j


def weighted_length(text: str) -> int:
    """twitter-text v3 weighted length: NFC, URLs 23, emoji sequences 2, other code points 1 or 2."""
    text = unicodedata.normalize("NFC", text)
    total = 0
    pos = 0
    for start, end, _url in find_urls(text):
        total += _plain_weight(text[pos:start]) + URL_WEIGHT
        pos = end
    return total + _plain_weight(text[pos:])


def _plain_weight(text: str) -> int:
    cps = [ord(c) for c in text]
    total = 0
    i = 0
    while i < len(cps):
        end = _emoji_cluster_end(cps, i)
        if end > i:
            total += 2
            i = end
        else:
            total += _char_weight(cps[i])
            i += 1
    return total


def mentioned_usernames(text: str) -> list[str]:
    return [m.group(1) for m in MENTION_RE.finditer(text)]


def entities(text: str, user_ids: dict[str, str]) -> dict[str, Any]:
    """v2 ``entities`` (mentions, hashtags, urls) with code point offsets; only non-empty keys.

    ``user_ids`` maps lower-case usernames to ids; mentions of unknown users carry no ``id``.
    """
    result: dict[str, Any] = {}
    mentions = []
    for m in MENTION_RE.finditer(text):
        mention: dict[str, Any] = {"start": m.start(), "end": m.end(), "username": m.group(1)}
        if m.group(1).lower() in user_ids:
            mention["id"] = user_ids[m.group(1).lower()]
        mentions.append(mention)
    if mentions:
        result["mentions"] = mentions
    hashtags = [{"start": m.start(), "end": m.end(), "tag": m.group(1)} for m in HASHTAG_RE.finditer(text)]
    if hashtags:
        result["hashtags"] = hashtags
    urls = []
    for start, end, url in find_urls(text):
        expanded = url if "://" in url else f"http://{url}"
        display = re.sub(r"^https?://", "", url)
        urls.append(
            {
                "start": start,
                "end": end,
                "url": url,
                "expanded_url": expanded,
                "display_url": display if len(display) <= 26 else display[:25] + "…",
            }
        )
    if urls:
        result["urls"] = urls
    return result
