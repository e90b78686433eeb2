"""A learned nature classifier that votes together with the word lists.

Why: word lists catch the wordings their authors foresaw. On labelled sets by writers they
had never been tuned on they named 72 % of natures right; a linear model over character
and word n-grams, trained on the other writers' sets, names 92 % right (leave-one-writer-out,
bench/nature_model.py). So the
model proposes and the word lists add a small vote, a larger one on very short texts where
negation and contrast defeat n-grams. Safety wins every doubt: a model probability of
safety above a low threshold is enough, and the word lists' safety verdict stands unless
the model is all but sure (below ``rules_safety_floor``) that nothing is dangerous, which
is what a health word in a refund request looks like. Leaving one writer out at a time,
that floor (0.03) removed a fifth of the false safety alarms and not one safety case.

The model file is a NumPy ``.npz`` read with ``allow_pickle=False`` (loading a file never
runs code). It holds the vocabularies, the IDF weights and the logistic regression's
coefficients; scikit-learn's vectorizers rebuild the features from them.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
import zipfile
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from connector.lexicon import NATURES

if TYPE_CHECKING:
    from sklearn.feature_extraction.text import TfidfVectorizer

# scikit-learn and SciPy are imported where they are used: they take a second or two to
# import, which processes that never triage (the webhook app, most CLI commands) need not pay.

BUILTIN = "builtin"
BUILTIN_PATH = Path(__file__).parent / "models" / "nature.npz"
FORMAT = 2
# Chosen by leave-one-writer-out cross-validation over the labelled sets (bench/nature_model.py).
DEFAULT_C = 10.0
CHAR_NGRAMS = (2, 5)
WORD_NGRAMS = (1, 2)
MIN_CHAR_DF = 2
MIN_EXAMPLES_PER_NATURE = 2
# A text this short gives the model a handful of n-grams, while one matched term says a lot:
# the word lists' vote weighs at least SHORT_RULES_WEIGHT there ("Gracias, pero sigue sin
# funcionar" is a failure, not praise). Costs nothing on the labelled sets (bench/nature_model.py).
SHORT_TEXT_WORDS = 8
SHORT_RULES_WEIGHT = 0.75

_MENTION = re.compile(r"@\w+")
_URL = re.compile(r"https?://\S+|www\.\S+")
_DIGIT = re.compile(r"\d")
_TOKEN = re.compile(r"\w+|[^\w\s]")
_PUNCTUATION = re.compile(r"[.,!?;:]")
# Negations of both languages as normalize() leaves them ("doesn't" is split at the apostrophe).
_NEGATION = re.compile(
    r"no|not|never|nunca|sin|ni|nadie|nobody|nothing|nada|cant|dont|doesnt|didnt|wont|isnt|t"
)
NEGATION_SCOPE = 3


class NatureModelError(Exception):
    """A model file that cannot be read, or training data that cannot make a model."""


def normalize(text: str) -> str:
    """Fold what says nothing about the nature: case, accents, digits, handles and links.

    "NO FUNCIONA", "no funciona" and "no funsiona" share most character n-grams once case
    and accents are gone; a brand's @handle or an order number would only teach the model
    who wrote the training line.
    """
    text = _URL.sub(" http ", text.lower())
    text = _MENTION.sub(" @u ", text)
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return _DIGIT.sub("0", text)


def mark_negation(text: str) -> str:
    """Prefix the words a negation reaches with ``neg_``, up to a punctuation mark.

    "no funciona" and "funciona" then differ as words, not only by one extra n-gram
    ("ya no funciona" is a failure, "funciona perfecto" praise). The scope is the next
    NEGATION_SCOPE words, cut short by punctuation; punctuation and emoji stay tokens.
    """
    out: list[str] = []
    left = 0
    for token in _TOKEN.findall(text):
        if _PUNCTUATION.fullmatch(token):
            left = 0
            out.append(token)
            continue
        out.append(f"neg_{token}" if left else token)
        left = NEGATION_SCOPE if _NEGATION.fullmatch(token) else max(0, left - 1)
    return " ".join(out)


def _vectorizers() -> tuple[TfidfVectorizer, TfidfVectorizer]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    chars = TfidfVectorizer(
        analyzer="char_wb", ngram_range=CHAR_NGRAMS, min_df=MIN_CHAR_DF, sublinear_tf=True
    )
    words = TfidfVectorizer(
        analyzer="word",
        ngram_range=WORD_NGRAMS,
        sublinear_tf=True,
        preprocessor=mark_negation,
        token_pattern=r"\S+",
    )
    return chars, words


@dataclass(frozen=True)
class NatureModel:
    """Features (character and word TF-IDF) and a multinomial logistic regression over them."""

    classes: tuple[str, ...]
    chars: TfidfVectorizer
    words: TfidfVectorizer
    coef: np.ndarray
    intercept: np.ndarray
    info: Mapping[str, Any] = field(default_factory=dict)

    def probabilities(self, text: str) -> dict[str, float]:
        """The probability of each nature for ``text`` (they sum to 1)."""
        from scipy.sparse import hstack

        folded = [normalize(text)]
        features = hstack([self.chars.transform(folded), self.words.transform(folded)]).tocsr()
        scores = np.asarray(features @ self.coef.T).ravel() + self.intercept
        exp = np.exp(scores - scores.max())
        probs = exp / exp.sum()
        return {nature: float(p) for nature, p in zip(self.classes, probs, strict=True)}


@dataclass(frozen=True)
class ModelVote:
    """How the model's probabilities and the word lists' verdict make one nature."""

    model: NatureModel
    #: Added to the probability of the nature the word lists chose.
    rules_weight: float
    #: Safety when the model gives it at least this probability.
    safety_threshold: float
    #: The word lists' safety verdict stands unless the model gives safety less than this.
    rules_safety_floor: float = 0.0

    def decide(self, text: str, rule_nature: str) -> tuple[str, float]:
        """The nature and the model's probability of it; safety wins every doubt."""
        return self.choose(self.model.probabilities(text), rule_nature, len(text.split()))

    def choose(self, probs: Mapping[str, float], rule_nature: str, words: int) -> tuple[str, float]:
        """:meth:`decide` for probabilities already computed (``words``: the text's length)."""
        safety = probs.get("safety", 0.0)
        if safety >= self.safety_threshold:
            return "safety", safety
        if rule_nature == "safety":
            if safety >= self.rules_safety_floor:
                return "safety", safety
            # The model is all but sure there is no danger ("hurt my back, not at the gym lol",
            # "my husband's surgery" behind a refund): the safety words were only words.
            best = max(probs, key=lambda n: probs[n])
            return best, probs[best]
        weight = self.rules_weight if words > SHORT_TEXT_WORDS else max(self.rules_weight, SHORT_RULES_WEIGHT)
        scores = {n: p + (weight if n == rule_nature else 0.0) for n, p in probs.items()}
        best = max(scores, key=lambda n: scores[n])
        return best, probs[best]


def fingerprint(examples: Iterable[tuple[str, str]]) -> str:
    """A hash of the training lines and settings: tells whether a model file is up to date."""
    digest = hashlib.sha256(json.dumps([FORMAT, DEFAULT_C, CHAR_NGRAMS, WORD_NGRAMS, MIN_CHAR_DF]).encode())
    for text, nature in sorted(examples):
        digest.update(json.dumps([text, nature], ensure_ascii=False).encode())
    return digest.hexdigest()


def train(examples: Sequence[tuple[str, str]], c: float = DEFAULT_C) -> NatureModel:
    """Fit a model on ``(text, nature)`` pairs; the order of the pairs does not matter."""
    unknown = sorted({nature for _, nature in examples} - set(NATURES))
    if unknown:
        raise NatureModelError(f"unknown nature(s) {', '.join(unknown)}; natures are {', '.join(NATURES)}")
    counts = Counter(nature for _, nature in examples)
    thin = sorted(n for n, k in counts.items() if k < MIN_EXAMPLES_PER_NATURE)
    if len(counts) < 2 or thin:
        raise NatureModelError(
            "training needs at least two natures with "
            f"{MIN_EXAMPLES_PER_NATURE}+ labelled lines each (have: {dict(sorted(counts.items()))})"
        )
    from scipy.sparse import hstack
    from sklearn.linear_model import LogisticRegression

    ordered = sorted(examples)
    texts = [normalize(text) for text, _ in ordered]
    chars, words = _vectorizers()
    features = hstack([chars.fit_transform(texts), words.fit_transform(texts)]).tocsr()
    regression = LogisticRegression(C=c, max_iter=5000, class_weight="balanced")
    regression.fit(features, [nature for _, nature in ordered])
    info = {
        "format": FORMAT,
        "trained_on": len(ordered),
        "per_nature": dict(sorted(counts.items())),
        "c": c,
        "fingerprint": fingerprint(examples) if c == DEFAULT_C else "",
    }
    return NatureModel(
        classes=tuple(str(n) for n in regression.classes_),
        chars=chars,
        words=words,
        coef=regression.coef_.astype(np.float32),
        intercept=regression.intercept_.astype(np.float32),
        info=info,
    )


def save(model: NatureModel, path: Path) -> None:
    """Write ``model`` as a compressed ``.npz`` (vocabularies, IDF weights, coefficients)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {
        "classes": np.array(model.classes),
        "info": np.array(json.dumps(model.info)),
    }
    for name, vectorizer in (("char", model.chars), ("word", model.words)):
        vocabulary = sorted(vectorizer.vocabulary_.items(), key=lambda item: item[1])
        arrays[f"{name}_terms"] = np.array([term for term, _ in vocabulary])
        arrays[f"{name}_idf"] = vectorizer.idf_.astype(np.float32)
    arrays["coef"], arrays["intercept"] = model.coef, model.intercept
    with path.open("wb") as handle:
        np.savez_compressed(handle, **cast(dict[str, Any], arrays))


def load(path: Path) -> NatureModel:
    """Read a model written by :func:`save`; a clear error for anything else."""
    try:
        with path.open("rb") as handle, np.load(handle, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise NatureModelError(f"{path}: not a nature model file ({exc})") from None
    try:
        info = json.loads(str(arrays["info"]))
        if info.get("format") != FORMAT:
            raise NatureModelError(f"{path}: model format {info.get('format')!r}, expected {FORMAT}")
        classes = tuple(str(c) for c in arrays["classes"])
        chars, words = _vectorizers()
        for name, vectorizer in (("char", chars), ("word", words)):
            terms = [str(t) for t in arrays[f"{name}_terms"]]
            vectorizer.vocabulary_ = {term: index for index, term in enumerate(terms)}
            vectorizer.idf_ = arrays[f"{name}_idf"].astype(np.float64)
        coef, intercept = arrays["coef"], arrays["intercept"]
    except (KeyError, ValueError, TypeError) as exc:
        raise NatureModelError(f"{path}: incomplete nature model file ({exc})") from None
    width = len(chars.vocabulary_) + len(words.vocabulary_)
    if coef.shape != (len(classes), width) or intercept.shape != (len(classes),):
        raise NatureModelError(f"{path}: coefficients do not match the vocabularies and natures")
    if not set(classes) <= set(NATURES):
        raise NatureModelError(f"{path}: unknown natures {sorted(set(classes) - set(NATURES))}")
    return NatureModel(classes, chars, words, coef.astype(np.float32), intercept.astype(np.float32), info)


@lru_cache(maxsize=4)
def _load_cached(path: str, mtime: float) -> NatureModel:
    return load(Path(path))


def load_model(name: str) -> NatureModel:
    """``builtin`` (the shipped model) or a file path; read once, again when the file changes."""
    path = BUILTIN_PATH if name == BUILTIN else Path(name)
    try:
        mtime = path.stat().st_mtime
    except OSError as exc:
        raise NatureModelError(f"{path}: cannot read the nature model: {exc.strerror}") from None
    return _load_cached(str(path), mtime)
