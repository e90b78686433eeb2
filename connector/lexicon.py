"""Keyword lexicons per language: loading ``connector/lexicons/*.yaml`` and matching terms.

A lexicon maps each nature to its terms, severity, weight and implied sentiment, and adds
sentiment words, function words (negators, intensifiers, "but"), spread and legal-threat
terms, idioms and emoji. :func:`find_hits` finds every term in a tokenized text; what the
matches mean is decided in :mod:`connector.triage`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from connector.language import FUZZY_MIN_LENGTH, Token, fold_term, word_forms, word_matches

NATURES: tuple[str, ...] = (
    "safety", "product_failure", "performance", "pricing", "after_sales",
    "complaint_handling", "question", "praise", "other",
)  # fmt: skip
EXTRA_TERM_KEYS: tuple[str, ...] = (*NATURES, "negative", "positive", "spread", "escalation")
# Word lists that are not natures or sentiment: negation, emphasis, "but", calls to spread,
# legal threats, idioms that hide a match, question openers and greetings before them,
# sarcasm markers that turn praise words into complaints, polite formulas ("thanks!") that
# are manners rather than praise, laughter, softeners of a small gripe ("a bit") and
# announced questions ("quick q:").
FUNCTION_CATEGORIES: tuple[str, ...] = (
    "negators", "intensifiers", "contrast", "spread", "escalation", "idioms",
    "openers", "greetings", "sarcasm", "people", "mishaps",
    "courtesy", "laughter", "softeners", "announcements", "medicines", "med_errors",
    "impostors", "secrets", "money_moves", "not_mine", "identity", "unasked",
    "documents", "exposed", "water", "electrics",
)  # fmt: skip
# Supplements merged into ``<language>.yaml``: ``<language>.broad.yaml`` holds broad word
# families (inflections, regional synonyms, typos, text-speak) kept apart from the core list.
SUPPLEMENTS: tuple[str, ...] = ("broad",)
CUE_PREFIX = "cue:"
# The sentiment an emoji of the lexicon's negative or positive list carries.
EMOJI_WEIGHT = 1.0

_EMOJI_MODIFIERS = dict.fromkeys([0xFE0F, *range(0x1F3FB, 0x1F400)])


class LexiconError(ValueError):
    """A lexicon file or a brand's extra terms are malformed."""


@dataclass(frozen=True, slots=True)
class NatureRule:
    """How much a nature weighs when natures compete, how risky it is, what it feels like."""

    severity: float
    weight: float
    polarity: float


@dataclass(frozen=True, slots=True)
class Term:
    """A lexicon entry: folded words to match in sequence, and what a match means.

    ``polarity`` is the sentiment the words carry; ``factor`` scales the next polar word
    (intensifiers only).
    """

    words: tuple[str, ...]
    category: str
    polarity: float = 0.0
    factor: float = 1.0


@dataclass(frozen=True, slots=True)
class Hit:
    """A term found at tokens ``start``..``end`` (exclusive)."""

    term: Term
    start: int
    end: int
    # Matched only by forgiving a typo ("dropping" for "droppings"): weaker than an exact match.
    fuzzy: bool = False

    def overlaps(self, other: Hit) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True, slots=True)
class Lexicon:
    """Everything triage matches for one language, indexed by the first word of each term.

    ``loose`` holds, by initial, terms whose first word cannot be looked up exactly
    (prefixes, hashtags, words long enough to forgive a typo, which keeps its first letter).
    """

    language: str
    rules: Mapping[str, NatureRule]
    emoji: Mapping[str, float]
    exact: Mapping[str, tuple[Term, ...]]
    loose: Mapping[str, tuple[Term, ...]]
    # Emoji that turn praise words into sarcasm when the text also complains ("👏", "🙃").
    sarcastic: tuple[str, ...] = ()
    # Text-speak read as the full word: "q" is "que", "u" is "you".
    aliases: Mapping[str, str] = field(default_factory=dict)

    def candidates(self, word: str, forms: frozenset[str]) -> Iterable[Term]:
        """Return the terms whose first word might match ``word`` (with its plural ``forms``)."""
        exact = [term for form in forms for term in self.exact.get(form, ())]
        return dict.fromkeys([*exact, *self.loose.get(word[:1], ())])


def build_lexicon(
    language: str,
    rules: Mapping[str, NatureRule],
    terms: Iterable[Term],
    emoji: Mapping[str, float],
    sarcastic: Iterable[str] = (),
    aliases: Mapping[str, str] | None = None,
) -> Lexicon:
    """Index ``terms`` by first word for :func:`find_hits`."""
    exact: dict[str, list[Term]] = defaultdict(list)
    loose: dict[str, list[Term]] = defaultdict(list)
    for term in dict.fromkeys(terms):
        first = term.words[0]
        if first.startswith("#") or first.endswith("*") or len(first) >= FUZZY_MIN_LENGTH:
            loose[first.lstrip("#")[:1]].append(term)
        else:
            for form in word_forms(first):
                exact[form].append(term)
    return Lexicon(
        language, rules, emoji, _freeze(exact), _freeze(loose), tuple(sarcastic), dict(aliases or {})
    )


def _freeze(index: Mapping[str, list[Term]]) -> dict[str, tuple[Term, ...]]:
    return {key: tuple(terms) for key, terms in index.items()}


# ---------------------------------------------------------------- lexicon loading


@lru_cache(maxsize=16)
def _read_lexicon(language: str) -> dict[str, Any]:
    folder = resources.files("connector") / "lexicons"
    resource = folder / f"{language}.yaml"
    if not resource.is_file():
        raise LexiconError(f"no lexicon for language {language!r}")
    data = yaml.safe_load(resource.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("natures"), dict):
        raise LexiconError(f"lexicons/{language}.yaml: expected a mapping with 'natures'")
    for name in SUPPLEMENTS:
        extra = folder / f"{language}.{name}.yaml"
        if extra.is_file():
            supplement = yaml.safe_load(extra.read_text(encoding="utf-8")) or {}
            data = dict(_merge(data, supplement, f"{language}.{name}"))
    return data


def _merge(base: Any, extra: Any, where: str) -> Any:
    """Add a supplement's lists to the base lexicon's lists, mapping by mapping."""
    if isinstance(base, dict) and isinstance(extra, dict):
        merged = dict(base)
        for key, value in extra.items():
            merged[key] = _merge(base[key], value, f"{where}.{key}") if key in base else value
        return merged
    if isinstance(base, list) and isinstance(extra, list):
        return [*base, *extra]
    raise LexiconError(f"lexicons/{where}: a supplement may only add to lists")


@lru_cache(maxsize=16)
def lexicon_available(language: str) -> bool:
    """Say whether a lexicon ships for ``language``."""
    return (resources.files("connector") / "lexicons" / f"{language}.yaml").is_file()


def _terms(entries: Any, category: str, where: str, polarity: float = 0.0) -> list[Term]:
    # Strings only: unquoted YAML ``no`` is the boolean false, not the Spanish negator.
    if isinstance(entries, Mapping) and all(isinstance(k, str) for k in entries):
        pairs = [(k, float(v)) for k, v in entries.items()]
    elif isinstance(entries, list) and all(isinstance(e, str) for e in entries):
        pairs = [(e, 1.0) for e in entries]
    else:
        raise LexiconError(f"{where}: expected a list of quoted strings")
    terms = []
    for text, factor in pairs:
        words = tuple(fold_term(text).split())
        if not words:
            raise LexiconError(f"{where}: empty term")
        terms.append(Term(words, category, polarity, factor))
    return terms


def _aliases(data: Mapping[str, Any], language: str) -> dict[str, str]:
    """Read ``aliases`` (text-speak → word), folded like the text they are matched against."""
    entries = data.get("aliases") or {}
    if not isinstance(entries, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in entries.items()
    ):
        raise LexiconError(f"lexicons/{language}: aliases must map quoted words to quoted words")
    return {fold_term(k): fold_term(v) for k, v in entries.items()}


def _parse_lexicon(
    language: str, data: Mapping[str, Any]
) -> tuple[dict[str, NatureRule], list[Term], dict[str, float], tuple[str, ...]]:
    rules: dict[str, NatureRule] = {}
    terms: list[Term] = []
    for nature in NATURES:
        spec = data["natures"].get(nature)
        if not isinstance(spec, Mapping):
            raise LexiconError(f"lexicons/{language}.yaml: natures.{nature} is missing")
        rule = NatureRule(float(spec["severity"]), float(spec["weight"]), float(spec["polarity"]))
        rules[nature] = rule
        terms += _terms(spec.get("terms") or [], nature, f"natures.{nature}.terms", rule.polarity)
        terms += _terms(spec.get("neutral_terms") or [], nature, f"natures.{nature}.neutral_terms")
    sentiment = data.get("sentiment", {})
    for category in ("negative", "positive"):
        where = f"sentiment.{category}"
        terms += _terms(sentiment.get(category, []), category, where, _implied_polarity(category, rules))
    for category in FUNCTION_CATEGORIES:
        terms += _terms(data.get(category, []), category, category)
    cues = data.get("cues") or {}
    if not isinstance(cues, Mapping) or not set(cues) <= set(NATURES):
        raise LexiconError(f"lexicons/{language}.yaml: cues must map natures to lists of terms")
    for nature, entries in cues.items():
        terms += _terms(entries or [], cue_category(nature), f"cues.{nature}")
    emoji = {strip_modifiers(e): -EMOJI_WEIGHT for e in data.get("emoji", {}).get("negative", [])}
    emoji |= {strip_modifiers(e): EMOJI_WEIGHT for e in data.get("emoji", {}).get("positive", [])}
    sarcastic = tuple(strip_modifiers(e) for e in data.get("emoji", {}).get("sarcastic", []))
    return rules, terms, emoji, sarcastic


def cue_category(nature: str) -> str:
    """Name the category of a nature's weak cues: words that only hint at it ("factura")."""
    return CUE_PREFIX + nature


def _implied_polarity(category: str, rules: Mapping[str, NatureRule]) -> float:
    """Return the sentiment a term of ``category`` carries: its nature's, or ±1 for sentiment words."""
    if category in rules:
        return rules[category].polarity
    return {"negative": -1.0, "positive": 1.0}.get(category, 0.0)


@lru_cache(maxsize=64)
def _compiled(
    language: str, others: tuple[str, ...], extra: tuple[tuple[str, tuple[str, ...]], ...]
) -> Lexicon:
    data = _read_lexicon(language)
    rules, terms, emoji, sarcastic = _parse_lexicon(language, data)
    for other in others:
        # Safety terms work across languages: "FIRE!!" in a Spanish thread is still a fire.
        terms += [t for t in _parse_lexicon(other, _read_lexicon(other))[1] if t.category == "safety"]
    for category, entries in extra:
        terms += _terms(
            list(entries), category, f"extra_terms.{category}", _implied_polarity(category, rules)
        )
    return build_lexicon(language, rules, terms, emoji, sarcastic, _aliases(data, language))


def load_lexicon(
    language: str,
    also_safety_from: Sequence[str] = (),
    extra_terms: Mapping[str, Sequence[str]] | None = None,
) -> Lexicon:
    """Load the lexicon for ``language``, plus other languages' safety terms and a brand's terms."""
    extra = extra_terms or {}
    unknown = sorted(set(extra) - set(EXTRA_TERM_KEYS))
    if unknown:
        raise LexiconError(
            f"extra_terms: unknown keys {', '.join(unknown)}; expected {', '.join(EXTRA_TERM_KEYS)}"
        )
    for key, entries in extra.items():
        if isinstance(entries, str) or not all(isinstance(term, str) for term in entries):
            raise LexiconError(f"extra_terms.{key}: expected a list of quoted strings")
    frozen = tuple(sorted((key, tuple(extra[key])) for key in extra))
    others = tuple(
        lang for lang in dict.fromkeys(also_safety_from) if lang != language and lexicon_available(lang)
    )
    return _compiled(language, others, frozen)


# ---------------------------------------------------------------- matching


def find_hits(tokens: Sequence[Token], lexicon: Lexicon) -> list[Hit]:
    """Return every lexicon term found in ``tokens``, overlapping ones included.

    A phrase never spans punctuation: "No, funciona" is not "no funciona". A word the
    lexicon knows exactly is not a typo of another: "dropping" (a known word) does not
    also match "droppings", so a match made only by forgiving a typo is dropped when an
    exact match covers the same words.
    """
    forms = [
        word_forms(token.text) | word_forms(lexicon.aliases[token.text])
        if token.text in lexicon.aliases
        else word_forms(token.text)
        for token in tokens
    ]
    hits = []
    for start in range(len(tokens)):
        for term in lexicon.candidates(tokens[start].text, forms[start]):
            end = start + len(term.words)
            if end <= len(tokens) and all(
                word_matches(word, tokens[start + i], forms[start + i])
                and (i == 0 or not tokens[start + i].clause_start)
                for i, word in enumerate(term.words)
            ):
                fuzzy = not all(
                    _exact(word, tokens[start + i], forms[start + i]) for i, word in enumerate(term.words)
                )
                hits.append(Hit(term, start, end, fuzzy))
    exact = [(h.start, h.end) for h in hits if not h.fuzzy]
    return [h for h in hits if not h.fuzzy or not any(s <= h.start and h.end <= e for s, e in exact)]


def _exact(pattern: str, token: Token, forms: frozenset[str]) -> bool:
    """Say whether ``pattern`` matches ``token`` without forgiving a typo."""
    if pattern.endswith("*"):
        return True
    return bool(word_forms(pattern.lstrip("#")) & forms)


def strip_modifiers(text: str) -> str:
    """Drop emoji variation selectors and skin tones so "👍🏽" counts as "👍"."""
    return text.translate(_EMOJI_MODIFIERS)
