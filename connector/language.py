"""Fold, tokenize and tell Spanish from English in short social texts.

Statistical detectors stumble on ten-word comments; counting function words, lexicon
words and Spanish-only characters is transparent and tunable until a later issue brings
lingua. Folding, tokenizing and word matching live here because triage and language
detection must agree on what a word is.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

# Evidence weights: a Spanish-only mark (ñ ¿ ¡) says more than one accented vowel,
# which French or a name could also carry.
STRONG_MARK_WEIGHT = 2.0
ACCENT_WEIGHT = 0.5
STOPWORD_WEIGHT = 1.0
# Lexicon words ("broken", "roto") are weaker evidence than function words, but they are
# all a three-word review may offer ("Great product, highly recommend").
VOCABULARY_WEIGHT = 0.5
CONTRACTION_WEIGHT = 1.0
# The winner needs this much evidence, and this many times its runner-up's.
MIN_EVIDENCE = 1.0
MIN_MARGIN_RATIO = 1.5
# Matching: one-letter typos are forgiven only in long words, where they cannot turn
# into another common word ("quemado"/"quedado" are 7 letters and stay exact).
FUZZY_MIN_LENGTH = 8

_STOPWORD_TEXT = {
    "es": """el la los las un una unos unas del que y o en por para con es esta estan son pero mi mis
        tu tus su sus lo al se le les ya muy como cuando donde porque tambien nos hay todo nada nadie
        hace tengo tiene tienen ha han hoy ayer manana gracias hola sin sobre este eso esto ese otra otro
        fue ser estoy esta estaba hasta desde cual quien ni pues aqui alli ahora siempre nunca mas menos
        usted ustedes vosotros nosotros yo ella ellos mucho poco bien mal solo sigue puedo quiero""",
    "en": """the and is are was were of to in for on with my your it its this that have has had not but
        at from be been they you we what how why when where can will would do does did an just about
        after again still i im ive dont doesnt didnt cant wont isnt wasnt our their there here because
        very so really please thanks thank hello hi any some all been being should could which who
        never nobody nothing only get got out up if or than then them these those""",
}

_STRONG_MARKS = frozenset("ñÑ¿¡")
_ACCENTED = frozenset("áéíóúüÁÉÍÓÚÜ")
_CONTRACTION = re.compile(r"[A-Za-z](?:n't|'s|'m|'re|'ll|'ve|'d)\b", re.IGNORECASE)
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'"})
_WORD = re.compile(r"#?[^\W_]+(?:'[^\W_]+)*")
_CLAUSE_BREAK = re.compile(r"[.,;:!?¿¡\n()\"]")


def fold(text: str) -> tuple[str, list[int]]:
    """Return ``text`` without accents, case-folded, with a map back to original offsets.

    The offset map lets matches found in folded text quote the customer's own words.
    """
    out: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text.translate(_APOSTROPHES)):
        decomposed = unicodedata.normalize("NFKD", char)
        for piece in "".join(c for c in decomposed if not unicodedata.combining(c)).casefold():
            out.append(piece)
            origin.append(index)
    return "".join(out), origin


def fold_term(term: str) -> str:
    """Fold a lexicon term the way texts are folded, with apostrophes dropped."""
    return fold(term)[0].replace("'", "").strip()


@dataclass(frozen=True, slots=True)
class Token:
    """One word: folded text, original span, and the surface facts triage cares about."""

    text: str
    start: int
    end: int
    hashtag: bool = False
    caps: bool = False
    clause_start: bool = False


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into folded word tokens that remember where they came from.

    Apostrophes inside words are dropped ("doesn't" → "doesnt") because customers write
    both; a token starts a clause when punctuation separates it from the previous word.
    """
    folded, origin = fold(text)
    tokens: list[Token] = []
    previous_end = 0
    for match in _WORD.finditer(folded):
        start, end = origin[match.start()], origin[match.end() - 1] + 1
        word = match.group()
        surface = text[start:end]
        letters = [c for c in surface if c.isalpha()]
        tokens.append(
            Token(
                text=word.lstrip("#").replace("'", ""),
                start=start,
                end=end,
                hashtag=word.startswith("#"),
                caps=len(letters) >= 2 and all(c.isupper() for c in letters),
                clause_start=not tokens or bool(_CLAUSE_BREAK.search(folded[previous_end : match.start()])),
            )
        )
        previous_end = match.end()
    return tokens


@lru_cache(maxsize=4096)
def word_forms(word: str) -> frozenset[str]:
    """Return a word and its light stems (plural -s/-es) so singular and plural meet."""
    forms = {word}
    if len(word) > 3 and word.endswith("s"):
        forms.add(word[:-1])
    if len(word) > 4 and word.endswith("es"):
        forms.add(word[:-2])
    return frozenset(forms)


def within_one_edit(a: str, b: str) -> bool:
    """Say whether ``a`` and ``b`` differ by at most one edit or one adjacent swap."""
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diffs = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        if len(diffs) <= 1:
            return True
        first, second = diffs[0], diffs[-1]
        return len(diffs) == 2 and second == first + 1 and (a[first], a[second]) == (b[second], b[first])
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def word_matches(pattern: str, token: Token, forms: frozenset[str] | None = None) -> bool:
    """Match one lexicon word against a token.

    ``#word`` matches hashtags only, ``pref*`` any word starting with ``pref``, other
    words match on plural stems, and long words also forgive one typo.
    """
    if pattern.startswith("#"):
        if not token.hashtag:
            return False
        pattern = pattern[1:]
    if pattern.endswith("*"):
        return token.text.startswith(pattern[:-1])
    if word_forms(pattern) & (forms if forms is not None else word_forms(token.text)):
        return True
    return (
        len(pattern) >= FUZZY_MIN_LENGTH
        and len(token.text) >= FUZZY_MIN_LENGTH
        and pattern[0] == token.text[0]
        and within_one_edit(pattern, token.text)
    )


def _stopwords() -> dict[str, frozenset[str]]:
    """Fold the stopword lists and drop words both languages share ("no", "me", "a")."""
    folded = {lang: frozenset(fold_term(w) for w in words.split()) for lang, words in _STOPWORD_TEXT.items()}
    shared = frozenset.intersection(*folded.values())
    return {lang: words - shared for lang, words in folded.items()}


STOPWORDS: dict[str, frozenset[str]] = _stopwords()


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(key)
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)


@lru_cache(maxsize=1)
def vocabulary() -> dict[str, frozenset[str]]:
    """Return the plain words of each shipped lexicon that the other languages do not use."""
    words: dict[str, frozenset[str]] = {}
    for lang in STOPWORDS:
        resource = resources.files("connector") / "lexicons" / f"{lang}.yaml"
        data = yaml.safe_load(resource.read_text(encoding="utf-8")) if resource.is_file() else {}
        content = [data.get("natures", {}), data.get("sentiment", {})]
        folded = (fold_term(word) for text in _strings(content) for word in text.split())
        words[lang] = frozenset(w for w in folded if w.isalpha() and len(w) > 2)
    shared = frozenset.intersection(*words.values())
    every_stopword = frozenset().union(*STOPWORDS.values())
    return {lang: vocab - shared - every_stopword for lang, vocab in words.items()}


def language_evidence(text: str) -> dict[str, float]:
    """Score how much ``text`` looks like each known language (higher is more)."""
    words = [token.text for token in tokenize(text)]
    vocab = vocabulary()
    scores = {
        lang: STOPWORD_WEIGHT * sum(w in stopwords for w in words)
        + VOCABULARY_WEIGHT * sum(w in vocab.get(lang, ()) for w in words)
        for lang, stopwords in STOPWORDS.items()
    }
    scores["es"] += STRONG_MARK_WEIGHT * sum(c in _STRONG_MARKS for c in text)
    scores["es"] += ACCENT_WEIGHT * sum(c in _ACCENTED for c in text)
    scores["en"] += CONTRACTION_WEIGHT * len(_CONTRACTION.findall(text.translate(_APOSTROPHES)))
    return scores


def primary_subtag(language: str | None) -> str | None:
    """Reduce a platform language tag ("es-ES", "es_MX", "EN") to its primary subtag."""
    if not language:
        return None
    return re.split(r"[-_]", language.strip(), maxsplit=1)[0].lower() or None


#: lingua's relative confidence needed to trust it on its own.
LINGUA_CONFIDENCE = 0.75


@lru_cache(maxsize=8)
def _lingua(allowed: tuple[str, ...]) -> Any:
    """A lingua detector restricted to the configured languages (built once: models are large)."""
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    codes = []
    for lang in allowed:
        try:
            codes.append(IsoCode639_1.from_str(lang))
        except ValueError:
            continue
    if len(codes) < 2:
        return None
    return LanguageDetectorBuilder.from_iso_codes_639_1(*codes).build()


#: Always asked too, so a text in neither configured language is not forced into one.
REFERENCE_LANGUAGES = ("en", "es")
MIN_LINGUA_WORDS = 2


def _lingua_guess(text: str, allowed: Sequence[str]) -> tuple[str | None, float]:
    """lingua's best language and its relative confidence; None for one-word texts ("ok")."""
    if sum(len(token.text) > 1 for token in tokenize(text)) < MIN_LINGUA_WORDS:
        return None, 0.0
    detector = _lingua(tuple(sorted({*allowed, *REFERENCE_LANGUAGES})))
    if detector is None:
        return None, 0.0
    values = detector.compute_language_confidence_values(text[:MAX_DETECTED_CHARS])
    if not values:
        return None, 0.0
    best = values[0]
    return best.language.iso_code_639_1.name.lower(), float(best.value)


MAX_DETECTED_CHARS = 2000


def detect_language(text: str, allowed: Sequence[str], default: str) -> str:
    """Guess the language of ``text`` among ``allowed``; ``default`` when the evidence is thin.

    lingua (restricted to the configured languages) decides when it is confident; short
    texts where it hesitates ("ok", "lol") fall back to counting function words and
    Spanish-only marks, and a near tie yields ``default``: a wrong lexicon is worse than
    the configured one.
    """
    if len(allowed) == 1:
        return allowed[0]
    guess, confidence = _lingua_guess(text, allowed)
    if guess is not None and guess not in allowed and confidence >= LINGUA_CONFIDENCE:
        return default  # confidently a language we do not handle
    if guess is not None and confidence >= LINGUA_CONFIDENCE:
        return guess
    candidates = [lang for lang in allowed if lang in STOPWORDS]
    if not candidates:
        return guess if guess is not None and guess in allowed and confidence > 0.5 else default
    evidence = language_evidence(text)
    ranked = sorted(candidates, key=lambda lang: evidence[lang], reverse=True)
    best = evidence[ranked[0]]
    runner_up = evidence[ranked[1]] if len(ranked) > 1 else 0.0
    if best < MIN_EVIDENCE or best < MIN_MARGIN_RATIO * runner_up:
        return default
    return ranked[0]


def resolve_language(platform_language: str | None, text: str, allowed: Sequence[str], default: str) -> str:
    """Prefer the platform's own language tag when allowed, else detect it from the text."""
    tag = primary_subtag(platform_language)
    if tag is not None and tag in allowed:
        return tag
    return detect_language(text, allowed, default)
