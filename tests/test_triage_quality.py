"""Triage quality on the labelled sets, held above thresholds set from what was measured.

Each folder of ``tests/fixtures/triage/`` was written by a different independent writer
(the top-level files are the first). Two kinds of set:

* **held out**: ``blind5/`` and ``blind6/``. Neither the word lists nor the shipped nature
  model have ever read them (``make model`` excludes them). Their thresholds sit just under
  what was measured once, at the commit that set them: the honest numbers.
* **trained**: every other folder. The shipped model learned from them and the word lists
  were tuned on the older ones, so these only guard against regressions.

The word lists alone are also held to their safety recall on the sets they were tuned
on, because their safety verdict is one the model can never overrule.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from connector.config import TriageSettings
from connector.pii import pii_types
from connector.triage_batch import BatchInputError, read_records, result_row, triage_record
from connector.triage_eval import Outcome, evaluate

FIXTURES = Path(__file__).parent / "fixtures" / "triage"
HELD_OUT = ("blind5", "blind6")


def _files(*folders: str) -> list[Path]:
    return [file for folder in folders for file in sorted((FIXTURES / folder).glob("*.jsonl"))]


def _trained_files() -> list[Path]:
    folders = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir() and p.name not in HELD_OUT)
    return sorted(FIXTURES.glob("*.jsonl")) + _files(*folders)


def _metrics(files: list[Path], settings: TriageSettings | None = None) -> dict[str, Any]:
    settings = settings or TriageSettings()
    outcomes = []
    for file in files:
        for record in read_records(file):
            assert not isinstance(record, BatchInputError), str(record)
            language, triage = triage_record(record, settings)
            assert record.label is not None
            outcomes.append(
                Outcome(record.interaction.external_id, record.label, result_row(record, language, triage))
            )
    return evaluate(outcomes).metrics()


@pytest.fixture(scope="module")
def held_out() -> dict[str, Any]:
    return _metrics(_files(*HELD_OUT))


@pytest.fixture(scope="module")
def trained() -> dict[str, Any]:
    return _metrics(_trained_files())


@pytest.fixture(scope="module")
def word_lists() -> dict[str, Any]:
    tuned = sorted(FIXTURES.glob("*.jsonl")) + _files("holdout", "blind", "blind2", "blind3", "train")
    return _metrics(tuned, TriageSettings(nature_model=None))


def test_the_sets_are_large_and_varied(held_out: dict[str, Any], trained: dict[str, Any]) -> None:
    assert held_out["total"] >= 280 and trained["total"] >= 5700
    for metrics in (held_out, trained):
        assert all(row["support"] >= 20 for row in metrics["nature_per_class"].values())


def test_quality_on_writers_nothing_was_trained_or_tuned_on(held_out: dict[str, Any]) -> None:
    assert held_out["nature_accuracy"] >= HELD_OUT_MIN["nature"]
    assert held_out["sentiment_accuracy"] >= HELD_OUT_MIN["sentiment"]
    assert held_out["priority_clear_accuracy"] >= HELD_OUT_MIN["priority"]
    assert held_out["language_accuracy"] >= 0.97
    assert len(held_out["safety_missed"]) <= HELD_OUT_MIN["safety_missed"]
    assert held_out["safety_below_p1"] == held_out["safety_missed"]  # found safety is always P1


def test_quality_on_the_sets_the_model_learned_from(trained: dict[str, Any]) -> None:
    assert trained["nature_accuracy"] >= TRAINED_MIN["nature"]
    assert trained["sentiment_accuracy"] >= TRAINED_MIN["sentiment"]
    assert trained["priority_clear_accuracy"] >= TRAINED_MIN["priority"]
    assert trained["safety_missed"] == [] and trained["safety_below_p1"] == []


def test_personal_data_is_found_with_at_most_one_false_alarm_per_writer() -> None:
    """Personal data is found by rules and libraries, never learned: every set is fair."""
    folders = [None, *sorted(p.name for p in FIXTURES.iterdir() if p.is_dir())]
    for folder in folders:
        files = sorted(FIXTURES.glob("*.jsonl")) if folder is None else _files(folder)
        missed, false_alarms = [], []
        for file in files:
            for record in read_records(file):
                assert not isinstance(record, BatchInputError) and record.label is not None
                found, expected = set(pii_types(record.interaction.text)), set(record.label["pii"])
                missed += [(record.interaction.external_id, kind) for kind in expected - found]
                if found and not expected:
                    false_alarms.append(record.interaction.external_id)
        assert missed == [], folder
        assert len(false_alarms) <= 1, (folder, false_alarms)


def test_the_word_lists_alone_still_find_every_safety_case_they_were_tuned_on(
    word_lists: dict[str, Any],
) -> None:
    assert word_lists["safety_missed"] == []
    assert word_lists["nature_accuracy"] >= 0.88


# Measured at the commit that set them, minus about two points. Held out (blind5 + blind6,
# 280 texts, shipped model and default settings): nature 95.4 %, sentiment 94.3 %, priority on
# clear cases 96.9 % (227), safety 48/48 found and all P1, personal data every item found,
# 1 false alarm on 212 texts. (Measured with each model shipped and nothing tuned on these
# texts: nature 92.1 % with the first, 93.2 % after negation marks, 93.9 % with 4,967 lines,
# 95.4 % with 5,767 lines and the rules' safety floor.) The word lists alone on the same
# texts: nature 76.8 %, safety 39/48. Trained sets (5,767 texts): nature 99.1 %, sentiment
# 93.3 %, priority 96.2 %, safety 1,143/1,143. Word lists alone on the sets they were tuned on
# (1,247): nature 91.0 %, every safety case.
HELD_OUT_MIN = {"nature": 0.93, "sentiment": 0.92, "priority": 0.94, "safety_missed": 0}
TRAINED_MIN = {"nature": 0.96, "sentiment": 0.91, "priority": 0.94}
