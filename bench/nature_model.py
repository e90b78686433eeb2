"""Does the learned nature model help on writers it has never read? (run by hand)

Leave-one-set-out cross-validation over the labelled sets (each folder of .jsonl files is
one writer): for each set, a model is trained on every other set and measured on it,
against the word lists alone (the baseline, measured in the same run). Each folder is
left out in turn; ``--blind`` folders are never trained on, only measured, and
``--exclude`` folders are not read (a blind set kept for one final measurement). The word lists
were tuned on most sets, so their own numbers there are optimistic; the model's are not.

    .venv/bin/python bench/nature_model.py tests/fixtures/triage --blind blind5 --blind blind6

Prints per set: nature accuracy of the word lists, the model, and the two voting with the
given weights; safety found and false safety alarms. The last line is
``blended_over_word_lists=<ratio>`` (mean accuracy, all sets).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connector.nature_model import ModelVote, train
from connector.nature_training import LabelledLine, read_training_data
from connector.triage import analyze_text


def _accuracy(pairs: list[tuple[str, str]]) -> float:
    return sum(got == want for got, want in pairs) / len(pairs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", type=Path, help="Labelled .jsonl files or folders of them.")
    parser.add_argument("--blind", action="append", default=[], help="A folder never trained on.")
    parser.add_argument("--exclude", action="append", default=[], help="A folder not read at all.")
    parser.add_argument("--rules-weight", type=float, default=0.1)
    parser.add_argument("--safety-threshold", type=float, default=0.25)
    parser.add_argument("--rules-safety-floor", type=float, default=0.03)
    args = parser.parse_args()

    data = read_training_data(args.paths, args.exclude)
    rules = {id(line): analyze_text(line.text, line.language or "es").nature for line in data.lines}
    by_set: dict[str, list[LabelledLine]] = {}
    for line in data.lines:
        by_set.setdefault(line.set_name, []).append(line)
    print(f"{'set':<12}{'lines':>6}{'words':>8}{'model':>8}{'voted':>8}{'safety':>10}{'false':>7}")
    totals: dict[str, list[float]] = {"words": [], "model": [], "voted": []}
    for name, lines in sorted(by_set.items()):
        excluded = {name, *args.blind}
        model = train([(line.text, line.nature) for line in data.lines if line.set_name not in excluded])
        vote = ModelVote(model, args.rules_weight, args.safety_threshold, args.rules_safety_floor)
        rows = []
        for line in lines:
            probs = model.probabilities(line.text)
            alone = max(probs, key=lambda n: probs[n])
            voted, _ = vote.choose(probs, rules[id(line)], len(line.text.split()))
            rows.append((line.nature, rules[id(line)], alone, voted))
        scores = {
            "words": _accuracy([(r[1], r[0]) for r in rows]),
            "model": _accuracy([(r[2], r[0]) for r in rows]),
            "voted": _accuracy([(r[3], r[0]) for r in rows]),
        }
        for key, value in scores.items():
            totals[key].append(value)
        safety = [r for r in rows if r[0] == "safety"]
        found = sum(r[3] == "safety" for r in safety)
        false = sum(r[3] == "safety" for r in rows if r[0] != "safety")
        print(
            f"{name:<12}{len(rows):>6}{scores['words']:>8.1%}{scores['model']:>8.1%}{scores['voted']:>8.1%}"
            f"{f'{found}/{len(safety)}':>10}{false:>7}"
        )
    mean = {key: sum(values) / len(values) for key, values in totals.items()}
    print(f"{'mean':<12}{'':>6}{mean['words']:>8.1%}{mean['model']:>8.1%}{mean['voted']:>8.1%}")
    print(f"blended_over_word_lists={mean['voted'] / mean['words']:.3f}")


if __name__ == "__main__":
    main()
