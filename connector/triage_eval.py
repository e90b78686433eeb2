"""Measure triage against labelled interactions: per-class precision/recall, confusion, PII, priority.

The labels (``label`` on each line, see tests/fixtures/triage/README.md) are what a
support lead would set: ``nature``, ``sentiment``, ``pii`` (list of types), ``priority``,
``clear`` (two leads would agree on that priority) and ``language``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from connector.lexicon import NATURES
from connector.pii import PII_TYPES

SENTIMENTS = ("neg", "neu", "pos")


@dataclass
class Outcome:
    """One labelled line and what triage said about it."""

    external_id: str
    label: dict[str, Any]
    result: dict[str, Any]


@dataclass
class ClassReport:
    classes: tuple[str, ...]
    pairs: list[tuple[str, str]] = field(default_factory=list)  # (expected, predicted)

    @property
    def accuracy(self) -> float:
        return sum(e == p for e, p in self.pairs) / len(self.pairs) if self.pairs else 0.0

    def precision_recall(self, name: str) -> tuple[float, float, int]:
        true_pos = sum(e == p == name for e, p in self.pairs)
        predicted = sum(p == name for _, p in self.pairs)
        support = sum(e == name for e, _ in self.pairs)
        precision = true_pos / predicted if predicted else 0.0
        recall = true_pos / support if support else 0.0
        return precision, recall, support

    def confusion(self) -> Counter[tuple[str, str]]:
        return Counter(self.pairs)


@dataclass
class Evaluation:
    total: int
    nature: ClassReport
    sentiment: ClassReport
    language: ClassReport
    pii_found: Counter[str]
    pii_expected: Counter[str]
    pii_wrong_type: int
    pii_false_alarms: int
    texts_without_pii: int
    priority_clear: ClassReport
    safety_cases: int
    safety_missed: list[str]
    safety_below_p1: list[str]

    def metrics(self) -> dict[str, Any]:
        """The numbers CI holds thresholds on (and ``--json`` prints)."""
        return {
            "total": self.total,
            "nature_accuracy": round(self.nature.accuracy, 4),
            "sentiment_accuracy": round(self.sentiment.accuracy, 4),
            "language_accuracy": round(self.language.accuracy, 4),
            "pii_recall": {
                kind: round(self.pii_found[kind] / self.pii_expected[kind], 4)
                for kind in PII_TYPES
                if self.pii_expected[kind]
            },
            "pii_items_missed": sum(self.pii_expected.values()) - sum(self.pii_found.values()),
            "pii_false_alarms": self.pii_false_alarms,
            "texts_without_pii": self.texts_without_pii,
            "priority_clear_accuracy": round(self.priority_clear.accuracy, 4),
            "priority_clear_cases": len(self.priority_clear.pairs),
            "safety_cases": self.safety_cases,
            "safety_missed": self.safety_missed,
            "safety_below_p1": self.safety_below_p1,
            "nature_per_class": {
                name: dict(
                    zip(("precision", "recall", "support"), self.nature.precision_recall(name), strict=True)
                )
                for name in self.nature.classes
            },
        }


def evaluate(outcomes: Iterable[Outcome]) -> Evaluation:
    nature = ClassReport(tuple(NATURES))
    sentiment = ClassReport(SENTIMENTS)
    language = ClassReport(("es", "en"))
    priority = ClassReport(("P1", "P2", "P3", "P4"))
    found: Counter[str] = Counter()
    expected: Counter[str] = Counter()
    wrong_type = false_alarms = without = safety = total = 0
    missed: list[str] = []
    below: list[str] = []
    for outcome in outcomes:
        total += 1
        label, result, ident = outcome.label, outcome.result, outcome.external_id
        if "nature" in label:
            nature.pairs.append((label["nature"], result["nature"]))
            if label["nature"] == "safety":
                safety += 1
                if result["nature"] != "safety":
                    missed.append(ident)
                if result["priority"] != "P1":
                    below.append(ident)
        if "sentiment" in label:
            sentiment.pairs.append((label["sentiment"], result["sentiment"]))
        if "language" in label:
            language.pairs.append((label["language"], result["language"]))
        if "pii" in label:
            want, got = set(label["pii"]), set(result["pii"])
            expected.update(want)
            found.update(want & got)
            if not want:
                without += 1
                false_alarms += bool(got)
            else:
                wrong_type += bool(got - want)
        if "priority" in label and label.get("clear", True):
            priority.pairs.append((label["priority"], result["priority"]))
    return Evaluation(
        total, nature, sentiment, language, found, expected, wrong_type, false_alarms, without,
        priority, safety, missed, below,
    )  # fmt: skip


def report_lines(evaluation: Evaluation) -> list[str]:
    """A readable report: headline numbers, per-class precision/recall, the nature confusion table."""
    m = evaluation.metrics()
    lines = [
        f"{m['total']} labelled interactions",
        f"nature accuracy     {m['nature_accuracy']:.1%}",
        f"sentiment accuracy  {m['sentiment_accuracy']:.1%}",
        f"language accuracy   {m['language_accuracy']:.1%}",
        f"priority (clear)    {m['priority_clear_accuracy']:.1%} of {m['priority_clear_cases']}",
        f"safety              {m['safety_cases'] - len(m['safety_missed'])}/{m['safety_cases']} found, "
        f"{len(m['safety_below_p1'])} below P1",
        "personal data       recall "
        + (", ".join(f"{k} {v:.0%}" for k, v in m["pii_recall"].items()) or "n/a (none labelled)")
        + f"; {m['pii_items_missed']} item(s) missed; "
        f"{m['pii_false_alarms']} false alarm(s) on {m['texts_without_pii']} texts without any",
        "",
        *_class_table("nature", evaluation.nature),
        "",
        *_class_table("sentiment", evaluation.sentiment),
        "",
        *_confusion_table(evaluation.nature),
    ]
    if m["safety_missed"]:
        lines += ["", "safety missed: " + ", ".join(m["safety_missed"])]
    if m["safety_below_p1"]:
        lines += ["safety below P1: " + ", ".join(m["safety_below_p1"])]
    return lines


def _class_table(title: str, report: ClassReport) -> list[str]:
    rows = [f"{title:<20}{'precision':>10}{'recall':>8}{'support':>9}"]
    for name in report.classes:
        precision, recall, support = report.precision_recall(name)
        if support or any(p == name for _, p in report.pairs):
            rows.append(f"{name:<20}{precision:>10.0%}{recall:>8.0%}{support:>9}")
    return rows


def _confusion_table(report: ClassReport) -> list[str]:
    names = [n for n in report.classes if any(n in pair for pair in report.pairs)]
    short = [_abbrev(n) for n in names]
    header = "expected \\ predicted".ljust(20) + "".join(f"{s:>6}" for s in short)
    counts = report.confusion()
    rows = [header]
    for name in names:
        rows.append(f"{name:<20}" + "".join(f"{counts[(name, other)] or '.':>6}" for other in names))
    return rows


def _abbrev(name: str) -> str:
    return {"product_failure": "fail", "complaint_handling": "handl", "after_sales": "after"}.get(
        name, name[:5]
    )


def outcomes_from(results: Sequence[tuple[str, dict[str, Any] | None, dict[str, Any]]]) -> list[Outcome]:
    return [Outcome(ident, label, result) for ident, label, result in results if label is not None]
