"""Triage quality on the labelled sets, held above thresholds set from what was measured.

``tests/fixtures/triage/*.jsonl`` (dev) and ``holdout/`` (a second writer) were used to
tune the lexicons; ``blind/`` was written by a third writer and never used for tuning,
so it is the honest measure of how triage does on words it has not seen.
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
def blind() -> dict[str, Any]:
    return _evaluate(FIXTURES / "blind" / "es.jsonl", FIXTURES / "blind" / "en.jsonl").metrics()


def test_the_sets_are_large_and_varied(dev: dict[str, Any], holdout: dict[str, Any]) -> None:
    assert dev["total"] >= 400 and holdout["total"] >= 180
    assert all(row["support"] >= 25 for row in dev["nature_per_class"].values())


def test_safety_is_never_missed_on_the_tuning_set(dev: dict[str, Any]) -> None:
    assert dev["safety_missed"] == [] and dev["safety_below_p1"] == []


def test_personal_data_is_found_with_at_most_one_false_alarm(
    dev: dict[str, Any], holdout: dict[str, Any]
) -> None:
    for metrics in (dev, holdout):
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


# Measured at the commit that set them, minus about two points (see the closing note):
# dev nature 90.6 %, sentiment 91.8 %, priority 89.8 %; holdout (tuned in round 2)
# 91.7 %, 90.0 %, 91.6 %; blind (never tuned on) 79.3 %, 89.3 %, 88.5 %, safety 15/18,
# 2 personal-data false alarms on 110 texts. The blind numbers are below the product's
# targets (85 % nature, every safety case): these thresholds only stop regressions.
DEV = {"nature": 0.88, "sentiment": 0.89, "priority": 0.87}
HOLDOUT = {"nature": 0.89, "sentiment": 0.88, "priority": 0.89, "safety_missed": 0}
BLIND = {"nature": 0.77, "sentiment": 0.87, "priority": 0.86, "safety_missed": 3, "pii_false_alarms": 2}
