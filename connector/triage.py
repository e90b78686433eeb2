"""Decide how urgent and how delicate an interaction is, and say why in one line.

Transparent on purpose: keyword lexicons per language (``connector/lexicons/*.yaml``),
named thresholds below, and an explanation an agent can check against the text. The nature
is voted with a learned model (:mod:`connector.nature_model`), which reads wordings no list
foresaw; the explanation names both. When in doubt, safety: a safety term wins over
everything, even negated ("no es peligroso?"), unless the model is all but sure nothing is
dangerous, and a modest model probability of safety is enough on its own, because a missed
fire costs more than an agent's glance.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import yaml

from connector.classifier_plugin import plugin_nature
from connector.config import TriageSettings
from connector.engagement import engagement_label, engagement_reach, spreading
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
)
from connector.model import Customer, Interaction, Triage, utcnow
from connector.nature_model import ModelVote, load_model
from connector.pii import pii_types
from connector.sla import due_at
from connector.text_reading import (
    choose_nature,
    final_sentiment,
    gather_evidence,
    read_text,
    score_sentiment,
    sentiment_label,
)
from connector.triage_scores import (
    HIGH_INFLUENCE,
    choose_channel,
    choose_priority,
    influence_score,
    reach_label,
    risk_score,
    value_score,
)

# Lexicon loading and matching live in connector.lexicon, reading a text in
# connector.text_reading; their names stay importable from here.
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

FALLBACK_LEXICON = "en"
# Nature and sentiment read the start of very long texts only (PII is checked in full):
# the first screens of a review say what it is about, and matching cost grows with length.
MAX_ANALYZED_CHARS = 10_000

MAX_EXPLAINED_TERMS = 3
DEFAULT_SLA_HOURS = {"P1": 1.0, "P2": 4.0, "P3": 24.0, "P4": 72.0}


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
    #: The learned model's probability of the chosen nature (None: word lists only).
    model_probability: float | None = None


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
    vote: ModelVote | None = None,
) -> TextAnalysis:
    """Read nature, sentiment, spread, legal threats and PII from ``text`` in ``language``.

    With ``vote``, the learned model and the word lists choose the nature together.
    """
    lexicon = load_lexicon(
        language if lexicon_available(language) else FALLBACK_LEXICON, also_safety_from, extra_terms
    )
    text, full_text = text[:MAX_ANALYZED_CHARS], text
    tokens = tokenize(text)
    hits = find_hits(tokens, lexicon)
    reading = read_text(tokens, hits)
    evidence = gather_evidence(text, reading, hits, lexicon)
    nature, nature_hits = choose_nature(evidence, lexicon.rules)
    probability = None
    if vote is not None:
        voted, probability = vote.decide(text, nature)
        if voted != nature:
            nature, nature_hits = voted, evidence.hits.get(voted, [])
    sentiment, score = final_sentiment(nature, score_sentiment(text, reading, lexicon), evidence)
    terms = _quote(text, tokens, nature_hits) or (("?",) if nature == "question" else ())
    return TextAnalysis(
        language=lexicon.language,
        nature=nature,
        severity=lexicon.rules[nature].severity,
        nature_terms=terms,
        negated=bool(nature_hits) and all(h.start in reading.negated for h in nature_hits),
        sentiment=sentiment,
        sentiment_score=round(score, 3),
        spread_terms=_quote(text, tokens, (h for h in hits if h.term.category == "spread")),
        escalation_terms=_quote(text, tokens, (h for h in hits if h.term.category == "escalation")),
        pii=pii_types(full_text),
        matched=len(reading.content),
        model_probability=None if probability is None else round(probability, 2),
    )


# ---------------------------------------------------------------- explanation


_SENTIMENT_WORDS = {"neg": "negative", "neu": "neutral", "pos": "positive"}


def explain(
    priority: str, text: TextAnalysis, author_reach: str, value_label: str, crisis: bool, channel: str
) -> str:
    """Write the one-line reason an agent reads next to the priority."""
    reasons = [f'"{t}"' for t in text.nature_terms]
    if reasons and text.negated:
        reasons.append("negated")
    if text.model_probability is not None:
        reasons.append(f"model {text.model_probability:.2f}")
    nature = f"{text.nature} ({', '.join(reasons)})" if reasons else text.nature
    parts = [f"{priority}: {nature}", _SENTIMENT_WORDS[text.sentiment], author_reach, value_label]
    if crisis:
        spread = ", ".join(f'"{t}"' for t in text.spread_terms)
        parts.append(f"crisis (spread: {spread})" if spread else "crisis")
    if text.escalation_terms:
        parts.append("legal/regulator threat (" + ", ".join(f'"{t}"' for t in text.escalation_terms) + ")")
    if text.pii:
        parts.append(f"PII: {'/'.join(text.pii)} → {channel}")
    return ", ".join(parts)


def _analyze(
    interaction: Interaction, settings: TriageSettings, extra_terms: Mapping[str, Sequence[str]] | None
) -> TextAnalysis:
    """Analyze the text in its language: the platform's tag, else detected from the text.

    Texts too short to tell ("Great product, highly recommend") are read with every allowed
    lexicon, and the one that understands the most wins (the detected one on ties).
    """
    allowed, text = settings.languages, interaction.text
    language = resolve_language(interaction.language, text, allowed, settings.default_language)
    vote = model_vote(settings)
    first = analyze_text(text, language, allowed, extra_terms, vote)
    tagged = primary_subtag(interaction.language) in allowed
    if tagged or max(language_evidence(text).values(), default=0.0) >= MIN_EVIDENCE:
        return first
    others = [analyze_text(text, lang, allowed, extra_terms, vote) for lang in allowed if lang != language]
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


def model_vote(settings: TriageSettings) -> ModelVote | None:
    """The configured learned model with its voting weights (None: word lists only)."""
    if not settings.nature_model:
        return None
    return ModelVote(
        load_model(settings.nature_model),
        settings.rules_weight,
        settings.safety_threshold,
        settings.rules_safety_floor,
    )


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
    engagement = interaction.engagement
    # Reach is the larger of who follows the author and how far this post already went.
    influence = max(influence_score(author.followers_count, author.verified), engagement_reach(engagement))
    value, value_label = value_score(customer, settings.value_tiers)
    spread = bool(text.spread_terms) or spreading(engagement)
    risk = risk_score(text.severity, text.sentiment_score, spread, bool(text.escalation_terms))
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
        # The clock starts when the customer wrote (a webhook or reconcile may be late),
        # counted in business hours when the configuration has them.
        sla_due_at=due_at(min(interaction.created_at, now or utcnow()), hours, settings.business_hours),
        channel=channel,
        pii=text.pii,
        crisis=crisis,
        explanation=explain(
            priority,
            text,
            reach_label(author.followers_count, author.verified, engagement_label(engagement)),
            value_label,
            crisis,
            channel,
        ),
        sentiment_score=text.sentiment_score,
    )
