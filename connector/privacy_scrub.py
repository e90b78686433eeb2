"""Find and replace one person's identifiers and texts in strings, JSON trees and SQL filters.

Candidates are found in SQL (a superset, by ``LIKE``), then scrubbed in Python so JSON stays
JSON and only what is theirs is replaced.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Column, ColumnElement, Text, cast, false, or_

from connector.privacy_report import ERASED, Person

#: Shorter texts (and lines of a text) are erased only inside their own payload objects.
MIN_FRAGMENT = 8
#: Shorter user ids are erased only where they are a whole value (an id field, a dict key).
MIN_ID_IN_TEXT = 6
#: A shortened copy of a text (a ticket subject, X's 140-character ``text``) shares this much.
MIN_PREFIX = 24
#: Inside their own payload objects these fields are theirs whatever their length.
_TEXT_KEYS = frozenset({"text", "message", "full_text", "caption", "name", "screen_name", "username"})
#: A payload object naming one of their interactions by one of these keys is theirs.
_OWN_ID_KEYS = ("id", "id_str", "external_id", "comment_id", "mid")
_URL = re.compile(r"https?://[^\s\]\)\"'<>]+")
_WORD = re.compile(r"\w")


def _bounded(literal: str) -> str:
    """A regex for ``literal`` that does not match inside a longer word or number."""
    pattern = re.escape(literal)
    if _WORD.match(literal[0]):
        pattern = r"(?<!\w)" + pattern
    if _WORD.match(literal[-1]):
        pattern += r"(?!\w)"
    return pattern


class Scrubber:
    """Finds and replaces one person's identifiers and texts in strings and JSON trees."""

    def __init__(
        self,
        person: Person,
        handles: Iterable[str],
        names: Iterable[str],
        links: Iterable[str],
        texts: Iterable[str],
        threads: dict[str, str],
        own_raws: list[Any],
        own_ids: Iterable[str],
    ) -> None:
        self.person = person
        self.own_raws = own_raws
        self.own_ids = frozenset(own_ids)
        self.handles = {h.strip().lstrip("@").lower() for h in handles if h and h.strip().lstrip("@")}
        self.handles -= {"erased"}
        full_texts = {t.strip() for t in texts if len(t.strip()) >= MIN_FRAGMENT}
        fragments = {
            line.strip() for t in texts for line in t.splitlines() if len(line.strip()) >= MIN_FRAGMENT
        }
        links = {*links, *(url for t in texts for url in _URL.findall(t))}
        self.long_texts = sorted({t for t in full_texts | fragments if len(t) >= MIN_PREFIX}, key=len)
        self.exact: dict[str, str] = {person.user_id: ERASED, person.key: person.pseudonym_key, **threads}
        for value in {*full_texts, *fragments, *(n for n in names if n), *(u for u in links if u)}:
            self.exact.setdefault(value, ERASED)
        # (regex, replacement) alternatives, longest literal first so a thread key wins over the id.
        literals: list[tuple[str, str, str]] = [(old, _bounded(old), new) for old, new in threads.items()]
        literals.append((person.key, _bounded(person.key), person.pseudonym_key))
        if len(person.user_id) >= MIN_ID_IN_TEXT:
            literals.append((person.user_id, _bounded(person.user_id), ERASED))
        for value in self.exact:
            if self.exact[value] == ERASED and value != person.user_id:
                literals.append((value, _bounded(value), ERASED))
                escaped = html.escape(value, quote=False)
                if escaped != value:
                    literals.append((escaped, _bounded(escaped), ERASED))
        literals += [(h, self._handle_pattern(h), ERASED) for h in self.handles]
        literals.sort(key=lambda item: len(item[0]), reverse=True)
        self.replacements = [new for _, _, new in literals]
        self.pattern = self._compile(pattern for _, pattern, _ in literals)
        self.mention_pattern = self._compile(self._handle_pattern(h) for h in self.handles)
        # Their id always: a short one is still erased where it is a whole value (X's numeric "id").
        self.like_forms = self._forms([person.user_id, *(literal for literal, _, _ in literals)])
        self.mention_forms = self._forms(self.handles)

    @staticmethod
    def _handle_pattern(handle: str) -> str:
        return r"(?i:(?<![\w.@])@?" + re.escape(handle) + r"(?!\w))"

    @staticmethod
    def _compile(patterns: Iterable[str]) -> re.Pattern[str] | None:
        alternatives = [f"(?P<g{i}>{p})" for i, p in enumerate(patterns)]
        return re.compile("|".join(alternatives)) if alternatives else None

    @staticmethod
    def _forms(literals: Iterable[str]) -> list[str]:
        """What to look for in SQL: each literal (a text by its prefix) as stored and JSON-escaped."""
        forms: set[str] = set()
        for literal in literals:
            short = literal[:MIN_PREFIX]
            for form in (short, json.dumps(short)[1:-1], json.dumps(short, ensure_ascii=False)[1:-1]):
                forms.update((form, form.replace("/", "\\/")))
        return sorted(f for f in forms if f)

    # --- strings ------------------------------------------------------------------------

    def text(self, value: str) -> str:
        """Replace every identifier, link and text (or shortened copy) of theirs in ``value``."""
        if self.pattern is not None:
            value = self.pattern.sub(self._replace, value)
        for text in self.long_texts:
            while text[:MIN_PREFIX] in value:
                low, high = MIN_PREFIX, len(text)
                while low < high:  # the longest prefix of the text present in value
                    middle = (low + high + 1) // 2
                    low, high = (middle, high) if text[:middle] in value else (low, middle - 1)
                value = value.replace(text[:low], ERASED)
        return value

    def _replace(self, match: re.Match[str]) -> str:
        return self.replacements[int((match.lastgroup or "g0")[1:])]

    def mentions(self, value: str) -> str:
        """Replace only ``@handle`` mentions of them (for other people's own words)."""
        return value if self.mention_pattern is None else self.mention_pattern.sub(ERASED, value)

    def _exact(self, value: str) -> str | None:
        found = self.exact.get(value) or self.exact.get(value.strip())
        if found is None and value.strip().lstrip("@").lower() in self.handles:
            return ERASED
        return found

    def json(self, value: Any, key: str | None = None, own: bool = False) -> Any:
        """Scrub a JSON tree; inside their own payload objects every text-like field is erased."""
        if isinstance(value, dict):
            own = own or self._is_theirs(value)
            return {self._exact(k) or self.text(k): self.json(v, k, own) for k, v in value.items()}
        if isinstance(value, list):
            return [self.json(item, key, own) for item in value]
        if isinstance(value, str):
            if own and value and (key or "").lower() in _TEXT_KEYS:
                return ERASED
            exact = self._exact(value)
            return exact if exact is not None else self.text(value)
        id_like = key is not None and (key == "id" or key.endswith(("_id", "_id_str")))
        if isinstance(value, int) and not isinstance(value, bool) and id_like:
            return ERASED if str(value) == self.person.user_id else value
        return value

    def _is_theirs(self, value: dict[str, Any]) -> bool:
        """Their stored payload, or an object carrying one of their interaction ids (a quoted tweet)."""
        named = (value.get(key) for key in _OWN_ID_KEYS)
        return any(str(v) in self.own_ids for v in named if v is not None) or value in self.own_raws

    def body(self, value: str) -> str:
        """A raw event body: scrubbed as JSON when it is JSON (and stays JSON), else as text."""
        try:
            data = json.loads(value)
        except ValueError:
            return self.text(value)
        cleaned = self.json(data)
        return value if cleaned == data else json.dumps(cleaned, ensure_ascii=False, separators=(",", ":"))

    # --- SQL ------------------------------------------------------------------------------

    def candidates(self, column: Column[Any], mentions_only: bool = False) -> ColumnElement[bool]:
        """Rows whose ``column`` may mention them (a superset; the scrub decides)."""
        forms = self.mention_forms if mentions_only else self.like_forms
        text = column if isinstance(column.type, Text) else cast(column, Text)
        return or_(false(), *(text.icontains(form, autoescape=True) for form in forms))
