"""Triage quality on the labelled sets, held above thresholds set from what was measured.

``tests/fixtures/triage/*.jsonl`` (dev) and ``holdout/`` (a second writer) were used to
tune the lexicons; ``blind/`` (a third writer) was unseen until round 3, then its misses were
studied for general word families; ``train/`` holds extra texts written to check that a new
family reaches past the line that motivated it (new sectors and voices, text-speak);
``blind2/`` and ``blind3/`` were measured once, then studied; ``blind4/`` has never been tuned on.
Thresholds sit a little under the measured numbers (see the issue notes): they catch
regressions, they are not a claim of accuracy on every customer's words.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from connector.config import TriageSettings
from connector.triage_batch import BatchInputError, read_records, result_row, triage_record
from connector.triage_eval import Evaluation, Outcome, evaluate

FIXTURES = Path(__file__).parent / "fixtures" / "triage"


def _evaluate(*files: Path) -> Evaluation:
    settings = TriageSettings()
    outcomes = []
    for file in files:
        for record in read_records(file):
            assert not isinstance(record, BatchInputError), str(record)
            language, triage = triage_record(record, settings)
            assert record.label is not None
            outcomes.append(
                Outcome(record.interaction.external_id, record.label, result_row(record, language, triage))
            )
    return evaluate(outcomes)


@pytest.fixture(scope="module")
def dev() -> dict[str, Any]:
    return _evaluate(FIXTURES / "es.jsonl", FIXTURES / "en.jsonl").metrics()


@pytest.fixture(scope="module")
def holdout() -> dict[str, Any]:
    return _evaluate(FIXTURES / "holdout" / "es.jsonl", FIXTURES / "holdout" / "en.jsonl").metrics()


@pytest.fixture(scope="module")
def train() -> dict[str, Any]:
    return _evaluate(*sorted((FIXTURES / "train").glob("*.jsonl"))).metrics()


@pytest.fixture(scope="module")
def blind4() -> dict[str, Any]:
    return _evaluate(FIXTURES / "blind4" / "es.jsonl", FIXTURES / "blind4" / "en.jsonl").metrics()


@pytest.fixture(scope="module")
def blind3() -> dict[str, Any]:
    return _evaluate(FIXTURES / "blind3" / "es.jsonl", FIXTURES / "blind3" / "en.jsonl").metrics()


@pytest.fixture(scope="module")
def blind2() -> dict[str, Any]:
    return _evaluate(FIXTURES / "blind2" / "es.jsonl", FIXTURES / "blind2" / "en.jsonl").metrics()


@pytest.fixture(scope="module")
def blind() -> dict[str, Any]:
    return _evaluate(FIXTURES / "blind" / "es.jsonl", FIXTURES / "blind" / "en.jsonl").metrics()


def test_the_sets_are_large_and_varied(dev: dict[str, Any], holdout: dict[str, Any]) -> None:
    assert dev["total"] >= 400 and holdout["total"] >= 180
    assert all(row["support"] >= 25 for row in dev["nature_per_class"].values())


def test_safety_is_never_missed_on_the_tuning_set(dev: dict[str, Any]) -> None:
    assert dev["safety_missed"] == [] and dev["safety_below_p1"] == []


def test_personal_data_is_found_with_at_most_one_false_alarm(
    dev: dict[str, Any],
    holdout: dict[str, Any],
    blind: dict[str, Any],
    train: dict[str, Any],
    blind2: dict[str, Any],
    blind3: dict[str, Any],
    blind4: dict[str, Any],
) -> None:
    for metrics in (dev, holdout, blind, train, blind2, blind3, blind4):
        assert metrics["pii_items_missed"] == 0
        assert metrics["pii_false_alarms"] <= 1


def test_quality_on_the_tuning_set(dev: dict[str, Any]) -> None:
    assert dev["nature_accuracy"] >= DEV["nature"]
    assert dev["sentiment_accuracy"] >= DEV["sentiment"]
    assert dev["priority_clear_accuracy"] >= DEV["priority"]
    assert dev["language_accuracy"] >= 0.97


def test_quality_on_the_held_out_set(holdout: dict[str, Any]) -> None:
    assert holdout["nature_accuracy"] >= HOLDOUT["nature"]
    assert holdout["sentiment_accuracy"] >= HOLDOUT["sentiment"]
    assert holdout["priority_clear_accuracy"] >= HOLDOUT["priority"]
    assert len(holdout["safety_missed"]) <= HOLDOUT["safety_missed"]
    assert holdout["language_accuracy"] >= 0.97


def test_quality_on_the_blind_set(blind: dict[str, Any]) -> None:
    assert blind["nature_accuracy"] >= BLIND["nature"]
    assert blind["sentiment_accuracy"] >= BLIND["sentiment"]
    assert blind["priority_clear_accuracy"] >= BLIND["priority"]
    assert len(blind["safety_missed"]) <= BLIND["safety_missed"]
    assert blind["language_accuracy"] >= 0.97


def test_quality_on_the_fourth_writers_set(blind2: dict[str, Any]) -> None:
    assert blind2["total"] >= 170
    assert blind2["nature_accuracy"] >= BLIND2["nature"]
    assert blind2["sentiment_accuracy"] >= BLIND2["sentiment"]
    assert blind2["priority_clear_accuracy"] >= BLIND2["priority"]
    assert blind2["safety_missed"] == [] and blind2["safety_below_p1"] == []


def test_quality_on_the_fifth_writers_set(blind3: dict[str, Any]) -> None:
    assert blind3["total"] >= 160
    assert blind3["nature_accuracy"] >= BLIND3["nature"]
    assert blind3["sentiment_accuracy"] >= BLIND3["sentiment"]
    assert blind3["priority_clear_accuracy"] >= BLIND3["priority"]
    assert blind3["safety_missed"] == [] and blind3["safety_below_p1"] == []


def test_quality_on_the_untouched_sixth_writers_set(blind4: dict[str, Any]) -> None:
    assert blind4["total"] >= 120
    assert blind4["nature_accuracy"] >= BLIND4["nature"]
    assert blind4["sentiment_accuracy"] >= BLIND4["sentiment"]
    assert blind4["priority_clear_accuracy"] >= BLIND4["priority"]
    assert blind4["safety_missed"] == [] and blind4["safety_below_p1"] == []


def test_quality_on_the_extra_training_texts(train: dict[str, Any]) -> None:
    assert train["total"] >= 180
    assert train["nature_accuracy"] >= TRAIN["nature"]
    assert train["sentiment_accuracy"] >= TRAIN["sentiment"]
    assert train["priority_clear_accuracy"] >= TRAIN["priority"]
    assert len(train["safety_missed"]) <= TRAIN["safety_missed"]


# Measured at the commit that set them, minus about two points (see the closing note):
# dev nature 91.3 %, sentiment 92.5 %, priority 95.7 %; holdout 93.3 %, 90.6 %, 95.8 %, safety
# 24/24; blind (studied in round 3, so no longer unseen) 100 %, 94.3 %, 97.4 %, safety 18/18,
# no personal-data false alarm; train/ (183 texts written to test generalisation) 96.2 %,
# 96.2 %, 97.1 %, safety 44/45. Before round 3 blind was 79.3 % / 89.3 % / 88.5 %, 15/18, and
# a fresh batch (train/*2.jsonl) measured once before any tuning on it read 61.9 % nature and
# 8/20 safety: words never seen are still the weak spot, and these thresholds only stop
# regressions.
DEV = {"nature": 0.89, "sentiment": 0.90, "priority": 0.93}
HOLDOUT = {"nature": 0.91, "sentiment": 0.88, "priority": 0.93, "safety_missed": 0}
BLIND = {"nature": 0.97, "sentiment": 0.92, "priority": 0.95, "safety_missed": 0, "pii_false_alarms": 0}
TRAIN = {"nature": 0.94, "sentiment": 0.93, "priority": 0.94, "safety_missed": 0}
# blind2/ (a fourth writer, 170 texts) measured once before round 4: nature 84.7 %, sentiment
# 89.4 %, priority 90.7 %, safety 18/22, one personal-data false alarm. Round 4 studied its
# misses (fraud frames, vehicles acting on their own, a reference qualifier), so it is no
# longer unseen: 87.1 %, 90.0 %, 92.1 %, 22/22, no false alarm.
BLIND2 = {"nature": 0.85, "sentiment": 0.88, "priority": 0.90}
# blind3/ (a fifth writer asked for indirect, varied wording, 160 texts) measured once before
# round 5: nature 74.4 %, sentiment 86.9 %, priority 90.6 %, safety 22/26, no PII false alarm.
# Round 5 studied its safety misses (documents exposed, water near electrics, more people and
# mishaps); now 77.5 % nature and 26/26 safety.
BLIND3 = {"nature": 0.75, "sentiment": 0.85, "priority": 0.88}
# blind4/ (a sixth writer, 120 texts, "a typical week of a brand's inbox") was measured after
# round 5 and NEVER tuned on: nature 83.3 %, sentiment 91.7 %, priority 93.9 %, safety 20/20,
# personal data all found with no false alarm on 80 texts. Keep it unread when tuning.
BLIND4 = {"nature": 0.81, "sentiment": 0.89, "priority": 0.91}
