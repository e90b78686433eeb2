"""Decide how urgent and how delicate an interaction is, and say why in one line.

Transparent on purpose: keyword lexicons per language (``connector/lexicons/*.yaml``),
named thresholds below, and an explanation an agent can check against the text. When in
doubt, safety: a safety term wins over everything, even negated ("no es peligroso?"),
because a missed fire costs more than an agent's glance.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

import yaml

from connector.classifier_plugin import plugin_nature
from connector.config import PriorityMatrix, TriageSettings
from connector.language import (
    MIN_EVIDENCE,
    Token,
    language_evidence,
    primary_subtag,
    resolve_language,
    tokenize,
)
from connector.lexicon import (
    EMOJI_WEIGHT,
    EXTRA_TERM_KEYS,
    NATURES,
    Hit,
    Lexicon,
    LexiconError,
    NatureRule,
    Term,
    build_lexicon,
    find_hits,
    lexicon_available,
    load_lexicon,
    strip_modifiers,
)
from connector.model import Customer, Interaction, Triage, utcnow
from connector.pii import pii_types

# Lexicon loading and matching live in connector.lexicon; their names stay importable from here.
__all__ = [
    "EMOJI_WEIGHT",
    "EXTRA_TERM_KEYS",
    "NATURES",
    "Hit",
    "Lexicon",
    "LexiconError",
    "NatureRule",
    "Term",
    "TextAnalysis",
    "analyze_text",
    "build_lexicon",
    "choose_channel",
    "choose_priority",
    "explain",
    "find_hits",
    "influence_score",
    "lexicon_available",
    "load_lexicon",
    "risk_score",
    "score_sentiment",
    "sentiment_label",
    "triage_interaction",
    "value_score",
]

PUBLIC_KINDS = frozenset({"comment", "mention", "post", "review"})
FALLBACK_LEXICON = "en"
# Nature and sentiment read the start of very long texts only (PII is checked in full):
# the first screens of a review say what it is about, and matching cost grows with length.
MAX_ANALYZED_CHARS = 10_000

# Sentiment: how far negation and intensifiers reach, and how the raw sum is squashed.
NEGATION_WINDOW = 3
INTENSIFIER_WINDOW = 2
CAPS_BOOST = 1.5
EXCLAMATION_BOOST = 1.2
MIN_EXCLAMATIONS = 2
CONTRAST_DISCOUNT = 0.5
SENTIMENT_SCALE = 2.0
SENTIMENT_THRESHOLD = 0.2
# Nature: a negated non-safety term is weaker evidence; a bare "?" is some evidence.
NEGATED_NATURE_WEIGHT = 0.5
QUESTION_MARK_SCORE = 0.5
MAX_EXPLAINED_TERMS = 3
# Influence: log10 of followers over this ceiling (10**6 followers → 1.0).
INFLUENCE_LOG_CEILING = 6.0
VERIFIED_BONUS = 0.2
HIGH_INFLUENCE = 0.5
# Value: scores for the configured tiers, highest threshold first.
VALUE_TIER_SCORES = (1.0, 0.6)
VALUE_LOW_POSITIVE = 0.3
VALUE_UNKNOWN = 0.2
HIGH_VALUE = VALUE_TIER_SCORES[0]
# Risk: nature severity dominates; negativity, spread and legal threats add to it.
RISK_SEVERITY_WEIGHT = 0.6
RISK_NEGATIVE_WEIGHT = 0.25
RISK_SPREAD_BONUS = 0.2
RISK_ESCALATION_BONUS = 0.15
# Priority: weighted score, then floors and caps by nature.
LOWEST_PRIORITY = 4
CRISIS_FLOOR = 2
PRAISE_CAP_HIGH_VALUE = 3
DEFAULT_SLA_HOURS = {"P1": 1.0, "P2": 4.0, "P3": 24.0, "P4": 72.0}

_CONTENT_CATEGORIES = frozenset({*NATURES, "negative", "positive", "idioms"})


@dataclass(frozen=True, slots=True)
class TextAnalysis:
    """What the words of an interaction say, before who said it is taken into account."""

    language: str
    nature: str
    severity: float
    nature_terms: tuple[str, ...]
    negated: bool
    sentiment: str
    sentiment_score: float
    spread_terms: tuple[str, ...]
    escalation_terms: tuple[str, ...]
    pii: tuple[str, ...]
    matched: int = 0


# ---------------------------------------------------------------- reading the text


def _content_hits(hits: Iterable[Hit]) -> list[Hit]:
    """Keep the longest of overlapping content matches ("gracias por nada" over "gracias").

    Safety matches are kept even inside longer phrases, so no complaint can hide a fire;
    only a listed idiom ("estoy quemado", "you're on fire") can.
    """
    content = [h for h in hits if h.term.category in _CONTENT_CATEGORIES]
    kept: list[Hit] = []
    for hit in sorted(content, key=lambda h: (h.start - h.end, h.start)):
        same = any((k.start, k.end, k.term.category) == (hit.start, hit.end, hit.term.category) for k in kept)
        covering = [k for k in kept if hit.overlaps(k) and (k.start, k.end) != (hit.start, hit.end)]
        if hit.term.category == "safety":
            covering = [k for k in covering if k.term.category == "idioms"]
        if not same and not covering:
            kept.append(hit)
    return sorted(kept, key=lambda h: h.start)


def _reach(tokens: Sequence[Token], hits: Iterable[Hit], window: int) -> dict[int, Hit]:
    """Map each token index to the function word (negator, intensifier) reaching it.

    Reach ends at the clause boundary: in "no, funciona perfecto" the "no" negates nothing.
    """
    reach: dict[int, Hit] = {}
    for hit in hits:
        for index in range(hit.end, min(hit.end + window, len(tokens))):
            if tokens[index].clause_start:
                break
            reach[index] = hit
    return reach


@dataclass(frozen=True, slots=True)
class _Reading:
    """Content hits plus which of them are negated, intensified or before a "but"."""

    tokens: Sequence[Token]
    content: list[Hit]
    negated: frozenset[int]
    boosts: dict[int, float]
    contrast_at: int


def _read(tokens: Sequence[Token], hits: list[Hit]) -> _Reading:
    content = _content_hits(hits)
    covered = {i for hit in content for i in range(hit.start, hit.end)}

    def functional(category: str) -> list[Hit]:
        return [h for h in hits if h.term.category == category and h.start not in covered]

    boosts: dict[int, float] = defaultdict(lambda: 1.0)
    for index, hit in _reach(tokens, functional("intensifiers"), INTENSIFIER_WINDOW).items():
        boosts[index] *= hit.term.factor
    contrasts = functional("contrast")
    return _Reading(
        tokens=tokens,
        content=content,
        negated=frozenset(
            h.start for h in content if h.start in _reach(tokens, functional("negators"), NEGATION_WINDOW)
        ),
        boosts=dict(boosts),
        contrast_at=max((h.start for h in contrasts), default=-1),
    )


def _polarity(hit: Hit, reading: _Reading) -> float:
    """Return a content hit's signed weight after negation, intensifiers, "but" and caps.

    A negated safety term ("no es peligroso?") is neutral, not reassuring: the customer
    is still talking about danger.
    """
    factor = reading.boosts.get(hit.start, 1.0)
    if hit.start in reading.negated:
        if hit.term.category == "safety":
            return 0.0
        factor = -factor
    if hit.end <= reading.contrast_at:
        factor *= CONTRAST_DISCOUNT
    if all(token.caps for token in reading.tokens[hit.start : hit.end]):
        factor *= CAPS_BOOST
    return hit.term.polarity * factor


def score_sentiment(text: str, reading: _Reading, lexicon: Lexicon) -> float:
    """Return a sentiment score in [-1, 1] from words, implied natures and emoji.

    A nature match counts its implied polarity ("no funciona" is negative) unless a
    sentiment word already covers the same words.
    """
    worded = {
        i
        for h in reading.content
        if h.term.category in ("negative", "positive")
        for i in range(h.start, h.end)
    }
    raw = 0.0
    for hit in reading.content:
        if hit.term.category in NATURES and worded.intersection(range(hit.start, hit.end)):
            continue
        raw += _polarity(hit, reading)
    plain = strip_modifiers(text)
    raw += sum(weight * plain.count(emoji) for emoji, weight in lexicon.emoji.items())
    if text.count("!") >= MIN_EXCLAMATIONS:
        raw *= EXCLAMATION_BOOST
    return math.tanh(raw / SENTIMENT_SCALE)


def sentiment_label(score: float) -> str:
    """Name a sentiment score: neg, neu or pos."""
    if score <= -SENTIMENT_THRESHOLD:
        return "neg"
    return "pos" if score >= SENTIMENT_THRESHOLD else "neu"


def _choose_nature(text: str, reading: _Reading, rules: Mapping[str, NatureRule]) -> tuple[str, list[Hit]]:
    """Pick the nature: safety if any safety term matched, else the best-scoring one.

    Ties go to the more severe nature; a question mark alone makes a question.
    """
    found: dict[str, list[Hit]] = defaultdict(list)
    for hit in reading.content:
        if hit.term.category in NATURES:
            found[hit.term.category].append(hit)
    if found["safety"]:
        return "safety", found["safety"]
    scores: dict[str, float] = defaultdict(float)
    for nature, hits in found.items():
        for hit in hits:
            scores[nature] += rules[nature].weight * (
                NEGATED_NATURE_WEIGHT if hit.start in reading.negated else 1.0
            )
    if "?" in text or "¿" in text:
        scores["question"] += QUESTION_MARK_SCORE
    if not scores:
        return "other", []
    best = max(scores, key=lambda n: (scores[n], rules[n].severity))
    return best, found[best]


def _quote(text: str, tokens: Sequence[Token], hits: Iterable[Hit]) -> tuple[str, ...]:
    """Quote matched terms in the customer's own spelling, once each, longest phrase first."""
    outer: list[Hit] = []
    for hit in sorted(hits, key=lambda h: (h.start - h.end, h.start)):
        if not any(o.start <= hit.start and hit.end <= o.end for o in outer):
            outer.append(hit)
    quoted = (
        " ".join(text[tokens[h.start].start : tokens[h.end - 1].end].split())
        for h in sorted(outer, key=lambda h: h.start)
    )
    return tuple(dict.fromkeys(quoted))[:MAX_EXPLAINED_TERMS]


def analyze_text(
    text: str,
    language: str,
    also_safety_from: Sequence[str] = (),
    extra_terms: Mapping[str, Sequence[str]] | None = None,
) -> TextAnalysis:
    """Read nature, sentiment, spread, legal threats and PII from ``text`` in ``language``."""
    lexicon = load_lexicon(
        language if lexicon_available(language) else FALLBACK_LEXICON, also_safety_from, extra_terms
    )
    text, full_text = text[:MAX_ANALYZED_CHARS], text
    tokens = tokenize(text)
    hits = find_hits(tokens, lexicon)
    reading = _read(tokens, hits)
    nature, nature_hits = _choose_nature(text, reading, lexicon.rules)
    score = score_sentiment(text, reading, lexicon)
    terms = _quote(text, tokens, nature_hits) or (("?",) if nature == "question" else ())
    return TextAnalysis(
        language=lexicon.language,
        nature=nature,
        severity=lexicon.rules[nature].severity,
        nature_terms=terms,
        negated=bool(nature_hits) and all(h.start in reading.negated for h in nature_hits),
        sentiment=sentiment_label(score),
        sentiment_score=round(score, 3),
        spread_terms=_quote(text, tokens, (h for h in hits if h.term.category == "spread")),
        escalation_terms=_quote(text, tokens, (h for h in hits if h.term.category == "escalation")),
        pii=pii_types(full_text),
        matched=len(reading.content),
    )


# ---------------------------------------------------------------- who said it, and how urgent


def influence_score(followers: int | None, verified: bool) -> float:
    """Return reach in [0, 1]: log10 of followers (10**6 → 1.0), plus a bonus for verified."""
    reach = math.log10(1 + max(followers or 0, 0)) / INFLUENCE_LOG_CEILING
    return round(min(1.0, reach + (VERIFIED_BONUS if verified else 0.0)), 3)


def value_score(customer: Customer | None, tiers: Mapping[str, float]) -> tuple[float, str]:
    """Return the customer's value in [0, 1] and a label for the explanation."""
    if customer is None or customer.value is None:
        return VALUE_UNKNOWN, "unknown customer"
    ranked = sorted(tiers.items(), key=lambda item: item[1], reverse=True)
    for rank, (name, threshold) in enumerate(ranked):
        if customer.value >= threshold:
            return VALUE_TIER_SCORES[min(rank, len(VALUE_TIER_SCORES) - 1)], f"{name} customer"
    if customer.value > 0:
        return VALUE_LOW_POSITIVE, "low-value customer"
    return VALUE_UNKNOWN, "customer without value"


def risk_score(severity: float, sentiment_score: float, spread: bool, escalation: bool) -> float:
    """Return risk in [0, 1] from the nature's severity, negativity, spread and legal threats."""
    risk = RISK_SEVERITY_WEIGHT * severity + RISK_NEGATIVE_WEIGHT * max(0.0, -sentiment_score)
    risk += (RISK_SPREAD_BONUS if spread else 0.0) + (RISK_ESCALATION_BONUS if escalation else 0.0)
    return round(min(1.0, risk), 3)


def choose_priority(
    nature: str,
    risk: float,
    influence: float,
    value: float,
    crisis: bool,
    matrix: PriorityMatrix | None = None,
) -> str:
    """Turn risk, influence and value into P1..P4 through the matrix, then apply the floors.

    A safety report is P1 whatever the matrix says; a crisis is at least P2; praise waits
    (P4) unless it comes from a top customer (P3).
    """
    matrix = matrix or PriorityMatrix()
    level = int(matrix.priority({"risk": risk, "influence": influence, "value": value})[1])
    if nature == "praise":
        level = max(level, PRAISE_CAP_HIGH_VALUE if value >= HIGH_VALUE else LOWEST_PRIORITY)
    if nature == "safety":
        level = 1
    elif crisis:
        level = min(level, CRISIS_FLOOR)
    return f"P{level}"


def choose_channel(kind: str, pii: Sequence[str]) -> str:
    """Say where the conversation continues: private for DMs and for PII left in public."""
    return "private" if kind not in PUBLIC_KINDS or pii else "public"


def _format_count(count: int) -> str:
    for divisor, suffix in ((1_000_000, "M"), (1_000, "k")):
        if count >= divisor:
            return f"{count / divisor:.1f}".removesuffix(".0") + suffix
    return str(count)


_SENTIMENT_WORDS = {"neg": "negative", "neu": "neutral", "pos": "positive"}


def explain(
    priority: str, text: TextAnalysis, author_reach: str, value_label: str, crisis: bool, channel: str
) -> str:
    """Write the one-line reason an agent reads next to the priority."""
    terms = ", ".join(f'"{t}"' for t in text.nature_terms)
    nature = f"{text.nature} ({terms}{', negated' if text.negated else ''})" if terms else text.nature
    parts = [f"{priority}: {nature}", _SENTIMENT_WORDS[text.sentiment], author_reach, value_label]
    if crisis:
        spread = ", ".join(f'"{t}"' for t in text.spread_terms)
        parts.append(f"crisis (spread: {spread})" if spread else "crisis")
    if text.escalation_terms:
        parts.append("legal/regulator threat (" + ", ".join(f'"{t}"' for t in text.escalation_terms) + ")")
    if text.pii:
        parts.append(f"PII: {'/'.join(text.pii)} → {channel}")
    return ", ".join(parts)


def _reach_label(followers: int | None, verified: bool) -> str:
    label = "followers unknown" if followers is None else f"{_format_count(followers)} followers"
    return f"{label}, verified" if verified else label


def _analyze(
    interaction: Interaction, settings: TriageSettings, extra_terms: Mapping[str, Sequence[str]] | None
) -> TextAnalysis:
    """Analyze the text in its language: the platform's tag, else detected from the text.

    Texts too short to tell ("Great product, highly recommend") are read with every allowed
    lexicon, and the one that understands the most wins (the detected one on ties).
    """
    allowed, text = settings.languages, interaction.text
    language = resolve_language(interaction.language, text, allowed, settings.default_language)
    first = analyze_text(text, language, allowed, extra_terms)
    tagged = primary_subtag(interaction.language) in allowed
    if tagged or max(language_evidence(text).values(), default=0.0) >= MIN_EVIDENCE:
        return first
    others = [analyze_text(text, lang, allowed, extra_terms) for lang in allowed if lang != language]
    return max([first, *others], key=lambda analysis: analysis.matched)


@lru_cache(maxsize=8)
def _terms_file(path: str, mtime: float) -> dict[str, list[str]]:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise LexiconError(f"{path}: cannot read the brand's terms: {exc}") from None
    if not isinstance(data, dict):
        raise LexiconError(f"{path}: expected a mapping of category → list of terms")
    return data


def brand_terms(settings: TriageSettings) -> dict[str, list[str]] | None:
    """The brand's own terms (``triage.terms_file``), reloaded when the file changes."""
    if not settings.terms_file:
        return None
    path = Path(settings.terms_file)
    try:
        mtime = path.stat().st_mtime
    except OSError as exc:
        raise LexiconError(f"{path}: cannot read the brand's terms: {exc.strerror}") from None
    return _terms_file(str(path), mtime)


def triage_interaction(
    interaction: Interaction,
    customer: Customer | None,
    settings: TriageSettings,
    now: datetime | None = None,
    extra_terms: Mapping[str, Sequence[str]] | None = None,
) -> Triage:
    """Triage one interaction: nature, sentiment, PII, risk, influence, value → priority, SLA, channel.

    The platform's language tag wins when allowed; otherwise the text decides. Safety
    terms of every allowed language are matched whatever the language.
    """
    text = _analyze(interaction, settings, extra_terms if extra_terms is not None else brand_terms(settings))
    if settings.classifier:
        nature = plugin_nature(settings.classifier, interaction.text, text.language, text.nature)
        if nature != text.nature:
            severity = load_lexicon(text.language if lexicon_available(text.language) else FALLBACK_LEXICON)
            text = replace(text, nature=nature, severity=severity.rules[nature].severity, nature_terms=())
    author = interaction.author
    influence = influence_score(author.followers_count, author.verified)
    value, value_label = value_score(customer, settings.value_tiers)
    risk = risk_score(
        text.severity, text.sentiment_score, bool(text.spread_terms), bool(text.escalation_terms)
    )
    crisis = (bool(text.spread_terms) and text.sentiment == "neg") or (
        text.nature == "safety" and influence >= HIGH_INFLUENCE
    )
    priority = choose_priority(text.nature, risk, influence, value, crisis, settings.priority_matrix)
    channel = choose_channel(interaction.kind, text.pii)
    hours = settings.sla_hours.get(priority, DEFAULT_SLA_HOURS[priority])
    return Triage(
        nature=text.nature,
        sentiment=text.sentiment,
        risk=risk,
        influence=influence,
        value_score=value,
        priority=priority,
        sla_due_at=(now or utcnow()) + timedelta(hours=hours),
        channel=channel,
        pii=text.pii,
        crisis=crisis,
        explanation=explain(
            priority,
            text,
            _reach_label(author.followers_count, author.verified),
            value_label,
            crisis,
            channel,
        ),
        sentiment_score=text.sentiment_score,
    )
