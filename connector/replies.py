"""Render the reply posted when a ticket is resolved, closed, or moved to a private channel.

The templates are ours but the values are not (display names, agent notes), so rendering
happens in an immutable sandbox, names are scrubbed before use, and the final text is
checked for personal data: a reply never carries PII, because it is public more often
than not. Platform limits are enforced here, with X's weighted character count.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any, Literal, get_args

from jinja2 import PackageLoader, StrictUndefined, Template, TemplateNotFound
from jinja2.sandbox import ImmutableSandboxedEnvironment

from connector.language import primary_subtag
from connector.pii import pii_types

Outcome = Literal["resolved", "closed", "private"]
OUTCOMES: tuple[str, ...] = get_args(Outcome)
REPLY_STATUSES = frozenset({"resolved", "closed"})
FALLBACK_LANGUAGE = "en"

X_LIMIT = 280
META_LIMIT = 2000
PLATFORM_LIMITS = {"x": X_LIMIT, "facebook": META_LIMIT, "instagram": META_LIMIT, "messenger": META_LIMIT}
DEFAULT_LIMIT = META_LIMIT
# X counts every URL as 23 (t.co) and emoji/CJK as 2; Latin, punctuation and dashes as 1.
X_URL_WEIGHT = 23
X_WIDE_WEIGHT = 2
X_NARROW_RANGES = ((0x0000, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))
ELLIPSIS = "…"
MAX_NAME_LENGTH = 30

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_NAME_WORD = re.compile(r"[^\W\d_]+(?:[-'\u2019][^\W\d_]+)*")
_MENTION = re.compile(r"@\w+")
_HANDLE = re.compile(r"^@?(\w{1,50})$")
_ZWJ = 0x200D
_INVISIBLE = frozenset({0xFE0F, *range(0x1F3FB, 0x1F400)})  # variation selector, skin tones
_REGIONAL_INDICATORS = range(0x1F1E6, 0x1F200)  # two of them make one flag


class ReplyError(Exception):
    """A reply cannot be rendered."""


class ReplyBlockedError(ReplyError):
    """The rendered reply would carry personal data; it must not be posted.

    The message names the PII types only, never the data itself, so it is safe to log.
    """

    def __init__(self, pii: tuple[str, ...] | str) -> None:
        if isinstance(pii, str):  # a ready-made message from a caller with its own check
            super().__init__(pii)
            self.pii: tuple[str, ...] = ()
            return
        super().__init__(f"reply blocked: it would carry personal data ({', '.join(pii)})")
        self.pii = pii


@lru_cache(maxsize=1)
def _environment() -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(
        loader=PackageLoader("connector", "templates"),
        undefined=StrictUndefined,
        autoescape=False,  # plain text for social platforms, not HTML
        trim_blocks=True,
        lstrip_blocks=True,
    )


def contains_pii(text: str) -> tuple[str, ...]:
    """Return the PII types in ``text`` (same detector as triage)."""
    return pii_types(text)


def choose_outcome(new_status: str, channel: str, *, direct: bool = False) -> Outcome:
    """Pick the reply for a status change: resolved or closed, or private when triage said so.

    ``direct`` says the conversation already is a direct message: the reply goes there
    with the normal resolved/closed wording instead of an invitation to go private.
    """
    if new_status not in REPLY_STATUSES:
        raise ReplyError(
            f"no reply for status {new_status!r}; expected one of {', '.join(sorted(REPLY_STATUSES))}"
        )
    if channel == "private" and not direct:
        return "private"
    return "resolved" if new_status == "resolved" else "closed"


def _template(outcome: str, language: str) -> Template:
    """Load the template for ``outcome`` in ``language``, falling back to English."""
    environment = _environment()
    tag = primary_subtag(language) or FALLBACK_LANGUAGE
    try:
        return environment.get_template(f"reply_{outcome}.{tag}.j2")
    except TemplateNotFound:
        return environment.get_template(f"reply_{outcome}.{FALLBACK_LANGUAGE}.j2")


def _field(source: Any, name: str) -> str | None:
    """Read ``name`` from a mapping or an object (Author, BrandSettings), as clean text."""
    value = source.get(name) if isinstance(source, Mapping) else getattr(source, name, None)
    if value is None:
        return None
    return " ".join(str(value).split()) or None


def greeting_name(display_name: str | None) -> str | None:
    """Return a first name to greet with, or None when the display name offers none.

    Display names carry emoji, handles, links and sometimes phone numbers; only a plain
    first word of letters is used, so a greeting cannot mention someone or leak data.
    """
    if not display_name or contains_pii(display_name):
        return None
    first = _NAME_WORD.search(_MENTION.sub(" ", _URL.sub(" ", display_name)))
    return first.group() if first and len(first.group()) <= MAX_NAME_LENGTH else None


def _context(variables: Mapping[str, Any], platform: str, include_resolution: bool) -> dict[str, Any]:
    author = variables.get("author") or {}
    brand = variables.get("brand") or {}
    ticket = variables.get("ticket") or {}
    display_name = _field(author, "display_name")
    handle_match = _HANDLE.match(_field(author, "handle") or "")
    summary = _field(variables, "resolution_summary") if include_resolution else None
    return {
        "author": {
            "handle": handle_match.group(1) if handle_match else None,
            "display_name": display_name if display_name and not contains_pii(display_name) else None,
        },
        "name": greeting_name(display_name),
        "brand": {
            "name": _field(brand, "name"),
            "private_channel_hint": _field(brand, "private_channel_hint"),
        },
        "ticket": {"number": _field(ticket, "number")},
        "platform": platform,
        "resolution_summary": summary,
    }


def _check_pii(text: str, context: Mapping[str, Any]) -> None:
    """Raise if ``text`` carries PII, ignoring what is ours to say (brand contact, case number)."""
    ours = [context["brand"]["name"], context["brand"]["private_channel_hint"], context["ticket"]["number"]]
    scrubbed = text
    for value in sorted((v for v in ours if v), key=len, reverse=True):
        scrubbed = scrubbed.replace(value, " ")
    found = contains_pii(scrubbed)
    if found:
        raise ReplyBlockedError(found)


def _chars_weight(text: str) -> int:
    total = 0
    joined = False
    flag_half = False
    for char in text:
        code = ord(char)
        if code == _ZWJ:
            joined = True
        elif code in _INVISIBLE or joined:
            joined = False  # the emoji after a ZWJ belongs to the one before it
        elif code in _REGIONAL_INDICATORS:
            total += 0 if flag_half else X_WIDE_WEIGHT
            flag_half = not flag_half
        else:
            narrow = any(low <= code <= high for low, high in X_NARROW_RANGES)
            total += 1 if narrow else X_WIDE_WEIGHT
    return total


def x_weighted_length(text: str) -> int:
    """Count ``text`` the way X does: URLs 23, emoji and CJK 2, everything else 1."""
    total = 0
    position = 0
    for url in _URL.finditer(text):
        total += _chars_weight(text[position : url.start()]) + X_URL_WEIGHT
        position = url.end()
    return total + _chars_weight(text[position:])


def fit(text: str, limit: int, measure: Callable[[str], int] = len) -> str:
    """Shorten ``text`` to ``limit`` at a word boundary, ending with an ellipsis.

    Cutting between words keeps links whole; a single over-long word is cut hard.
    """
    if measure(text) <= limit:
        return text
    words = text.split(" ")
    while len(words) > 1 and measure(" ".join(words) + ELLIPSIS) > limit:
        words.pop()
    shortened = " ".join(words).rstrip(" ,;:.—-")
    while shortened and measure(shortened + ELLIPSIS) > limit:
        shortened = shortened[:-1]
    return shortened + ELLIPSIS


def render_reply(
    outcome: Outcome,
    language: str,
    variables: Mapping[str, Any],
    platform: str,
    *,
    include_resolution: bool = False,
) -> str:
    """Render the reply for ``outcome`` in ``language`` (English when missing) for ``platform``.

    ``variables`` holds ``author`` (handle, display_name), ``brand`` (name,
    private_channel_hint), ``ticket`` (number) and ``resolution_summary``. The summary is
    an agent's note that may hold internal detail, so it is left out unless
    ``include_resolution`` is set (for a direct message) and never goes in a private-channel
    invitation. Raises :class:`ReplyBlockedError` when the text would carry personal data.
    """
    if outcome not in OUTCOMES:
        raise ReplyError(f"unknown outcome {outcome!r}; expected one of {', '.join(OUTCOMES)}")
    context = _context(variables, platform, include_resolution and outcome != "private")
    text = " ".join(_template(outcome, language).render(context).split())
    _check_pii(text, context)
    fitted = fit_for_platform(text, platform)
    _check_pii(fitted, context)
    return fitted


def fit_for_platform(text: str, platform: str) -> str:
    """Shorten ``text`` to what ``platform`` accepts (X: 280 weighted, Meta: 2000)."""
    limit = PLATFORM_LIMITS.get(platform, DEFAULT_LIMIT)
    return fit(text, limit, x_weighted_length if platform == "x" else len)
