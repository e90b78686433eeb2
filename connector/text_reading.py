"""What the words of a text say, read with the word lists: evidence per nature, the nature
the lists choose, and the sentiment.

Negation and intensifiers reach a few words; weak cues (money, delivery, waiting words)
hint; hazard pairs ("a child" + "swallowed") make safety; sarcasm, courtesy formulas and
laughter change how praise and complaints read. :mod:`connector.triage` puts this together
with the learned model, personal data and who wrote it.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from connector.language import Token
from connector.lexicon import CUE_PREFIX, NATURES, Hit, Lexicon, NatureRule, strip_modifiers

# Sentiment: how far negation and intensifiers reach, and how the raw sum is squashed.
NEGATION_WINDOW = 3
INTENSIFIER_WINDOW = 2
CAPS_BOOST = 1.5
EXCLAMATION_BOOST = 1.2
MIN_EXCLAMATIONS = 2
CONTRAST_DISCOUNT = 0.5
SENTIMENT_SCALE = 2.0
SENTIMENT_THRESHOLD = 0.2
# Nature: a negated non-safety term is weaker evidence; a weak cue ("factura", "pedido",
# a price) hints at a nature; a question is some evidence, a rhetorical one (in a
# complaint) very little.
NEGATED_NATURE_WEIGHT = 0.5
CUE_WEIGHT = 0.4
MAX_CUE_SCORE = 0.8
MIN_CUE_EVIDENCE = 0.8
QUESTION_SIGNAL = 0.75
RHETORICAL_QUESTION_SIGNAL = 0.1
MAX_QUESTION_SCORE = 0.95
WARM_PRAISE_FACTOR = 2.0
# A closing "thanks"/"gracias" is courtesy, not praise, in a message that asks or deals
# with something; "thanks for …"/"gracias por …" is gratitude and stays praise.
GRATITUDE_FOLLOWERS = frozenset({"for", "por", "to", "a", "al"})
# Laughing emoji: two of them (or a laughing word) make a jokey, positive tone.
LAUGHING_EMOJI = ("😂", "🤣", "😆")
MIN_LAUGHING_EMOJI = 2
HEARTY_LAUGH = 2
# Natures that a laughing, calm text can still be (anything else is read as a joke).
LIGHT_NATURES = frozenset({"question", "other"})
COMPLAINT_NATURES = frozenset({"safety", "product_failure", "performance", "pricing", "complaint_handling"})
# Amounts of money hint at pricing ("120 €", "£89", "$1,299.99", "350 pesos"); a duration
# after "takes"/"tarda" hints at performance ("takes 40 seconds", "tarda 2h").
PATTERN_CUES: tuple[tuple[str, float, re.Pattern[str]], ...] = (
    (
        "pricing",
        0.5,
        re.compile(
            r"[€£$]\s?\d|\d\s?(?:€|£|\$|eur(?:os?)?\b|pesos\b|d[oó]lares\b|libras\b|quid\b|bucks\b|p\b)",
            re.IGNORECASE,
        ),
    ),
    (
        "performance",
        0.9,
        re.compile(
            r"\b(?:takes?|took|taking|tarda|tardan|tardó|tardaba|lleva|lasts?|lasted|lasting|dura|duran|duraba|duró)"
            r"\s+(?:about\s+|like\s+|around\s+|barely\s+|only\s+|unos\s+|casi\s+|como\s+|apenas\s+|solo\s+)?"
            r"(?:\d+|an?|una?|half|media)\s*(?:h\b|hrs?\b|hours?|mins?\b|minutes?|secs?\b|seconds?|horas?|minutos?|segundos?)",
            re.IGNORECASE,
        ),
    ),
    # A measured speed or range ("61 Mbps", "290 km") is what performance complaints quote.
    (
        "performance",
        0.5,
        re.compile(
            r"\d\s?(?:mbps|mb/s|mbit|megas|gbps|kbps|kw\b|km\b|kms\b|miles\b|mph\b|fps\b)", re.IGNORECASE
        ),
    ),
    # "It works, but …" / "funciona, pero …": it works, below what it should.
    (
        "performance",
        0.9,
        re.compile(r"\b(?:works?|working|funciona|funcionar|va)\b[\s,]+(?:but|pero)\b", re.I),
    ),
    # A price then another ("from £29 to £39", "de 58€ a 83€", "$340 … y $510") is a pricing complaint.
    (
        "pricing",
        0.9,
        re.compile(
            r"(?:[€£$]\s?\d[\d.,]*|\d[\d.,]*\s?(?:€|eur(?:os?)?\b|pesos\b|quid\b))\W+(?:\w+\W+){0,4}?"
            r"(?:[€£$]\s?\d|\d[\d.,]*\s?(?:€|eur(?:os?)?\b|pesos\b|quid\b))",
            re.I,
        ),
    ),
    # "Ordered X, got Y" / "pedí X y me llegó Y": the wrong thing arrived.
    (
        "product_failure",
        0.9,
        re.compile(
            r"\b(?:ordered|bought|pedí|pedi|compré|compre)\b\W+(?:\w+\W+){0,5}?"
            r"(?:got|received|sent me|came|me (?:llegó|llego|llegaron|mandaron|enviaron|trajeron))\b",
            re.I,
        ),
    ),
    # "Swap/exchange/cambiar X for/por Y" is an exchange.
    (
        "after_sales",
        0.9,
        re.compile(r"\b(?:swap|exchange|change|cambiar|cambio)\b\W+(?:\w+\W+){1,4}?(?:for|por)\b", re.I),
    ),
    # A rise by a percentage ("me subís la prima un 38%", "went up 20%") is a price rise.
    (
        "pricing",
        0.9,
        re.compile(
            r"\b(?:sub\w*|aument\w*|increas\w*|ris\w*|rose|rais\w*|went\s+up|gone\s+up|up)\b\W+(?:\w+\W+){0,4}?"
            r"(?:un\s+|by\s+|el\s+)?\d+(?:[.,]\d+)?\s?%",
            re.IGNORECASE,
        ),
    ),
)
MAX_PATTERN_SCORE = 0.9
# Ties between equally scored natures: a repair that did not fix it is after-sales.
TIE_ORDER = {"after_sales": 1.0}

_CONTENT_CATEGORIES = frozenset({*NATURES, "negative", "positive", "idioms"})




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
class Reading:
    """Content hits plus which of them are negated, intensified or before a "but"."""

    tokens: Sequence[Token]
    content: list[Hit]
    negated: frozenset[int]
    boosts: dict[int, float]
    contrast_at: int


def read_text(tokens: Sequence[Token], hits: list[Hit]) -> Reading:
    content = _content_hits(hits)
    covered = {i for hit in content for i in range(hit.start, hit.end)}

    def functional(category: str) -> list[Hit]:
        return [h for h in hits if h.term.category == category and h.start not in covered]

    boosts: dict[int, float] = defaultdict(lambda: 1.0)
    for index, hit in _reach(tokens, functional("intensifiers"), INTENSIFIER_WINDOW).items():
        boosts[index] *= hit.term.factor
    contrasts = functional("contrast")
    return Reading(
        tokens=tokens,
        content=content,
        negated=frozenset(
            h.start for h in content if h.start in _reach(tokens, functional("negators"), NEGATION_WINDOW)
        ),
        boosts=dict(boosts),
        contrast_at=max((h.start for h in contrasts), default=-1),
    )


def _polarity(hit: Hit, reading: Reading) -> float:
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


def score_sentiment(text: str, reading: Reading, lexicon: Lexicon, implied: bool = True) -> float:
    """Return a sentiment score in [-1, 1] from words, implied natures and emoji.

    A nature match counts its implied polarity ("no funciona" is negative) unless a
    sentiment word already covers the same words; ``implied=False`` reads only the
    sentiment words and emoji (the tone).
    """
    worded = {
        i
        for h in reading.content
        if h.term.category in ("negative", "positive")
        for i in range(h.start, h.end)
    }
    raw = 0.0
    for hit in reading.content:
        if hit.term.category in NATURES and (
            (not implied and hit.term.category != "praise") or worded.intersection(range(hit.start, hit.end))
        ):
            continue  # praise words ("very pleased") are tone words too
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


def _lead_positions(text: str, tokens: Sequence[Token], hits: Iterable[Hit]) -> frozenset[int]:
    """Token indexes that open a clause, after any @mentions and greetings ("Hola @Marca, ¿tienen…")."""
    greeting = {i for h in hits if h.term.category == "greetings" for i in range(h.start, h.end)}
    lead: set[int] = set()
    for index, token in enumerate(tokens):
        previous = index - 1
        after_preamble = previous in lead and (previous in greeting or _is_mention(text, tokens[previous]))
        if index == 0 or token.clause_start or after_preamble:
            lead.add(index)
    return frozenset(lead)


def _is_mention(text: str, token: Token) -> bool:
    return token.start > 0 and text[token.start - 1] == "@"


def _asks(text: str, tokens: Sequence[Token], hits: Sequence[Hit]) -> bool:
    """A question: a question mark, or an opener ("does", "cuándo", "se puede") leading a clause."""
    if "?" in text or "¿" in text:
        return True
    lead = _lead_positions(text, tokens, hits)
    return any(h.term.category == "openers" and h.start in lead for h in hits)


# Word lists that are harmless alone and a hazard together: someone vulnerable (a baby, a
# driver on the road, a hand) and a physical mishap; a medicine and a mix-up; someone
# contacting the customer and a secret or fee asked for (phishing); a money movement the
# customer did not make (fraud); someone acting in the customer's name (identity theft);
# identity documents lost or left exposed; water near anything electrical.
HAZARD_PAIRS: tuple[tuple[str, str], ...] = (
    ("people", "mishaps"),
    ("medicines", "med_errors"),
    ("impostors", "secrets"),
    ("money_moves", "not_mine"),
    ("identity", "unasked"),
    ("documents", "exposed"),
    ("water", "electrics"),
)


def _hazard_hits(hits: Sequence[Hit]) -> list[Hit]:
    """The hits of every hazard pair whose two halves both occur in the text."""
    kinds = {h.term.category for h in hits}
    pairs = {c for pair in HAZARD_PAIRS if set(pair) <= kinds for c in pair}
    return [h for h in hits if h.term.category in pairs]


def _sarcastic(text: str, hits: Iterable[Hit], lexicon: Lexicon) -> bool:
    plain = strip_modifiers(text)
    return any(h.term.category == "sarcasm" for h in hits) or any(e in plain for e in lexicon.sarcastic)


@dataclass(frozen=True, slots=True)
class Evidence:
    """Per-nature scores from strong terms and weak cues, and the tone of the sentiment words."""

    negation: bool
    strong: dict[str, float]
    cues: dict[str, float]
    hits: dict[str, list[Hit]]
    tone: float
    asks: bool
    sarcastic: bool
    laughs: int = 0
    softened: bool = False
    # The writer says it is a question ("quick q:", "una duda:") and asks it.
    announced: bool = False

    def complaint(self) -> bool:
        """Something in the text complains: a complaint term or a negative tone (cues do not)."""
        return self.tone <= -SENTIMENT_THRESHOLD or any(
            self.strong.get(n, 0.0) > 0 for n in COMPLAINT_NATURES
        )


def _courtesy_spans(tokens: Sequence[Token], hits: Iterable[Hit]) -> list[tuple[int, int]]:
    """Spans of polite formulas ("thanks!", "mil gracias", "un saludo") not followed by "for"/"por"."""
    spans = []
    for hit in hits:
        if hit.term.category != "courtesy":
            continue
        following = tokens[hit.end] if hit.end < len(tokens) else None
        if following is None or following.clause_start or following.text not in GRATITUDE_FOLLOWERS:
            spans.append((hit.start, hit.end))
    return spans


def _laughs(text: str, hits: Iterable[Hit]) -> int:
    """How much the text laughs: 0; 1 for "lol"/"jaja"; 2 for a long laugh or two laughing emoji.

    The long laughs are the lexicon's prefix entries ("jajaja*", "lmao*"): "jajajaja" and
    "lmaooo" are a good mood, a bare "lol" may just soften a remark.
    """
    plain = strip_modifiers(text)
    laughs = [h for h in hits if h.term.category == "laughter"]
    if any(h.term.words[0].endswith("*") for h in laughs):
        return 2
    if sum(plain.count(e) for e in LAUGHING_EMOJI) >= MIN_LAUGHING_EMOJI:
        return 2
    return 1 if laughs else 0


def _softened_gripe(reading: Reading, hits: Iterable[Hit]) -> bool:
    """Praise, then a "but" and a softened complaint: "great camera, though the case is a bit flimsy".

    Every complaint term comes after the "but", one softener does too, and some praise or
    positive word comes before it.
    """
    cut = reading.contrast_at
    if cut < 0:
        return False
    before = [h for h in reading.content if h.end <= cut]
    after = [h for h in reading.content if h.start > cut]
    warm = any(h.term.category in ("praise", "positive") and h.start not in reading.negated for h in before)
    gripes = [h for h in reading.content if h.term.category in (*COMPLAINT_NATURES, "negative")]
    soft = any(h.term.category == "softeners" and h.start > cut for h in hits)
    return (
        warm
        and soft
        and bool(gripes)
        and all(h in after for h in gripes)
        and not any(h.term.category == "safety" for h in reading.content)
    )


def gather_evidence(text: str, reading: Reading, hits: Sequence[Hit], lexicon: Lexicon) -> Evidence:
    found: dict[str, list[Hit]] = defaultdict(list)
    strong: dict[str, float] = defaultdict(float)
    asks = _asks(text, reading.tokens, hits)
    courtesy = _courtesy_spans(reading.tokens, hits)
    busy = asks or any(
        h.term.category in NATURES and h.term.category not in ("praise", "other") for h in reading.content
    )
    # Only a closing formula is manners: "Thank you @Brand, the assessor came in two days" thanks.
    last_topic = max((h.start for h in reading.content if h.term.category in NATURES
                      and h.term.category != "praise"), default=-1)  # fmt: skip
    courtesy = [(s, e) for s, e in courtesy if s > last_topic]
    for hit in reading.content:
        nature = hit.term.category
        if nature not in NATURES:
            continue
        negated = hit.start in reading.negated
        if negated and nature in ("praise", "question"):
            continue  # "not impressed" is no praise, "no puedo pagar" no question
        if nature == "praise" and busy and any(s <= hit.start and hit.end <= e for s, e in courtesy):
            continue  # "¿se puede llevar el carrito? Gracias" asks; the thanks is manners
        found[nature].append(hit)
        strong[nature] += lexicon.rules[nature].weight * (NEGATED_NATURE_WEIGHT if negated else 1.0)
    covered = {i for h in reading.content if h.term.category in NATURES for i in range(h.start, h.end)}
    cues: dict[str, float] = defaultdict(float)
    seen: set[tuple[str, int]] = set()
    for hit in sorted(hits, key=lambda h: (h.start, h.start - h.end)):
        if not hit.term.category.startswith(CUE_PREFIX) or hit.start in covered:
            continue
        nature = hit.term.category.removeprefix(CUE_PREFIX)
        if any((nature, i) in seen for i in range(hit.start, hit.end)):
            continue  # one cue per word: "items" is not two hints
        seen.update((nature, i) for i in range(hit.start, hit.end))
        found[nature].append(hit)
        cues[nature] += CUE_WEIGHT * (NEGATED_NATURE_WEIGHT if hit.start in reading.negated else 1.0)
    # Hints never outweigh one strong term ("took forever" beats "item … delivery"); an
    # amount of money or a duration is a sharper hint than a topic word.
    cues = {nature: min(score, MAX_CUE_SCORE) for nature, score in cues.items()}
    for nature, weight, pattern in PATTERN_CUES:
        found_here = len(pattern.findall(text))
        if found_here:
            cues[nature] = min(cues.get(nature, 0.0) + weight * found_here, MAX_PATTERN_SCORE)
    hazard = _hazard_hits(hits)
    if hazard:
        strong["safety"] = strong.get("safety", 0.0) + 1.0
        found["safety"] += hazard
    content_words = {i for h in reading.content for i in range(h.start, h.end)}
    negation = any(h.term.category == "negators" and h.start not in content_words for h in hits)
    return Evidence(
        negation=negation,
        strong=dict(strong),
        cues=dict(cues),
        hits=dict(found),
        tone=score_sentiment(text, reading, lexicon, implied=False),
        asks=asks,
        sarcastic=_sarcastic(text, hits, lexicon),
        laughs=_laughs(text, hits),
        softened=_softened_gripe(reading, hits),
        announced=asks and any(h.term.category == "announcements" for h in hits),
    )


def choose_nature(evidence: Evidence, rules: Mapping[str, NatureRule]) -> tuple[str, list[Hit]]:
    """Pick the nature: safety if any safety term (or a hazard pair) matched, else the best score.

    Strong terms count fully, weak cues (money, delivery, waiting words) a little and never
    more than one strong term; a question counts fully when nothing complains; sarcasm
    ("genial, otra caída 👏") cancels praise words in a complaint, and a warm tone doubles
    them. Without strong evidence :func:`_fallback` decides. Ties go to after-sales, then
    to the more severe nature.
    """
    hits = evidence.hits
    if evidence.strong.get("safety"):
        return "safety", hits["safety"]
    complaint = evidence.complaint()
    if evidence.softened and not evidence.sarcastic:
        return "praise", hits.get("praise", [])
    serious = any(score > 0 for n, score in evidence.strong.items() if n not in LIGHT_NATURES) or any(
        score >= MIN_CUE_EVIDENCE for n, score in evidence.cues.items() if n in COMPLAINT_NATURES
    )  # "takes 40 seconds to load lol" still complains
    if evidence.laughs and not complaint and not evidence.negation and not serious:
        return "other", hits.get("other", [])  # "anyone going saturday? lol", a meme
    if evidence.announced and not complaint and not evidence.negation:
        return "question", hits.get("question", [])  # "quick q: is the return window 30 days?"
    # A single hint in a calm text ("os escribo por lo del pedido") says nothing went wrong.
    weak = not any(evidence.strong.values()) and not complaint and not evidence.negation
    use_cues = not weak or max(evidence.cues.values(), default=0.0) >= MIN_CUE_EVIDENCE
    scores: dict[str, float] = defaultdict(float)
    for nature in NATURES:
        hinted = evidence.cues.get(nature, 0.0) if use_cues else 0.0
        scores[nature] = evidence.strong.get(nature, 0.0) + hinted
    if evidence.sarcastic and complaint:
        scores["praise"] = 0.0
    if evidence.asks:
        # A question beats topic hints ("how do I add a driver in the app?") but not a
        # strong term ("quiero la devolución, ¿cómo hago?" is after-sales).
        signal = RHETORICAL_QUESTION_SIGNAL if complaint else QUESTION_SIGNAL
        scores["question"] = min(scores["question"] + signal, MAX_QUESTION_SCORE)
    if evidence.tone >= SENTIMENT_THRESHOLD and not evidence.sarcastic:
        scores["praise"] *= WARM_PRAISE_FACTOR  # thanks in a warm text outweigh the fault it mentions
    scores = {n: score for n, score in scores.items() if score > 0}
    if not scores or (max(scores.values()) < MIN_CUE_EVIDENCE and not any(evidence.strong.values())):
        nature = _fallback(evidence, scores, rules)
        return nature, hits.get(nature, [])
    best = max(scores, key=lambda n: (scores[n], TIE_ORDER.get(n, 0.0), rules[n].severity))
    warm = not complaint and evidence.tone >= SENTIMENT_THRESHOLD
    if best == "after_sales" and warm and "praise" in scores:
        best = "praise"  # "impressed with how fast you sorted my refund"
    return best, hits.get(best, [])


def _fallback(evidence: Evidence, scores: Mapping[str, float], rules: Mapping[str, NatureRule]) -> str:
    """No strong term: a question, praise, the hinted complaint, a bare failure, or other.

    A text that complains without naming how ("TV has no picture, just sound") is most
    likely something that does not work; a calm text with at most one hint is chatter.
    """
    if evidence.asks and not evidence.complaint():
        return "question"
    if evidence.tone >= SENTIMENT_THRESHOLD and not evidence.sarcastic:
        return "praise"
    complaining = evidence.negation or evidence.complaint()
    hinted = {n: score for n, score in scores.items() if n in COMPLAINT_NATURES or n == "after_sales"}
    if complaining and hinted:
        return max(hinted, key=lambda n: (hinted[n], TIE_ORDER.get(n, 0.0), rules[n].severity))
    if evidence.negation:
        return "product_failure"  # "no picture, just sound", "won't let me back in"
    if scores:
        return max(scores, key=lambda n: (scores[n], TIE_ORDER.get(n, 0.0), rules[n].severity))
    return "other"


def final_sentiment(nature: str, score: float, evidence: Evidence) -> tuple[str, float]:
    """Name the sentiment the way an agent reads it: complaints are negative however polite.

    Praise is positive and a plain question neutral; an after-sales message is negative
    when it complains (a negative word, a delay, a failure) and neutral when it only moves
    a return along. Spam, jokes and chatter keep the tone of their words.
    """
    bound = SENTIMENT_THRESHOLD
    if nature in COMPLAINT_NATURES:
        return "neg", min(score, -bound)
    if nature == "praise":
        return "pos", max(score, bound)
    if nature == "question":
        return "neu", max(-bound / 2, min(bound / 2, score))
    if nature == "after_sales":
        # A waiting word ("days", "ya") complains unless the tone is warm ("sorted in two days, thanks").
        waiting = evidence.cues.get("complaint_handling", 0.0) > 0 and evidence.tone < bound
        if evidence.complaint() or evidence.sarcastic or evidence.negation or waiting:
            return "neg", min(score, -bound)
        return "neu", max(-bound / 2, min(bound / 2, score))
    if nature == "other" and evidence.laughs >= HEARTY_LAUGH and not evidence.complaint():
        return "pos", max(score, bound)  # a joke shared with friends is a good mood
    return sentiment_label(score), score
