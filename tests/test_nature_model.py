"""The learned nature model: training, its file, how it votes with the word lists, its CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from connector.cli import main
from connector.config import ConfigError, TriageSettings, config_from_dict
from connector.nature_model import (
    BUILTIN_PATH,
    ModelVote,
    NatureModelError,
    fingerprint,
    load,
    load_model,
    mark_negation,
    normalize,
    save,
    train,
)
from connector.nature_training import read_training_data
from connector.runtime import Runtime
from connector.triage import triage_interaction
from tests.conftest import base_config
from tests.triage_support import NOW, mention

FIXTURES = Path(__file__).parent / "fixtures" / "triage"
# Sets kept out of the shipped model, so that tests/test_triage_quality.py measures it on
# writers it has never read (Makefile: `make model`).
HELD_OUT = ("blind5", "blind6")

SMALL = [
    ("my order never arrived", "product_failure"),
    ("the parcel never arrived at all", "product_failure"),
    ("el pedido nunca llegó", "product_failure"),
    ("way too expensive, price went up again", "pricing"),
    ("me habéis subido el precio otra vez", "pricing"),
    ("they charged me twice this month", "pricing"),
    ("thanks, lovely service", "praise"),
    ("gracias, un servicio genial", "praise"),
    ("great staff, thanks a lot", "praise"),
    ("smoke came out of the charger", "safety"),
    ("the heater sparked and burned my hand", "safety"),
    ("salió humo del cargador", "safety"),
]


def test_normalize_folds_case_accents_digits_handles_and_links() -> None:
    assert normalize("NO FUNCIONA @FibraYa desde el 12/03 https://x.co/a") == (
        "no funciona  @u  desde el 00/00  http "
    )


def test_negations_mark_the_words_they_reach_up_to_punctuation() -> None:
    assert mark_negation(normalize("Ya NO funciona, pero el router sí")) == (
        "ya no neg_funciona , pero el router si"
    )
    assert mark_negation("it doesn't work at all today") == "it doesn ' t neg_work neg_at neg_all today"


def test_a_trained_model_gives_probabilities_and_survives_its_file(tmp_path: Path) -> None:
    model = train(SMALL)
    probs = model.probabilities("the charger gave off smoke")
    assert set(probs) == {"product_failure", "pricing", "praise", "safety"}
    assert sum(probs.values()) == pytest.approx(1.0)
    assert max(probs, key=lambda n: probs[n]) == "safety"
    path = tmp_path / "m.npz"
    save(model, path)
    again = load(path)
    assert again.classes == model.classes and again.info == model.info
    for text in ("my parcel never arrived", "precio abusivo", "", "🔥🔥"):
        assert again.probabilities(text) == pytest.approx(model.probabilities(text), abs=1e-6)


def test_training_is_independent_of_the_order_of_the_lines() -> None:
    forward, backward = train(SMALL), train(list(reversed(SMALL)))
    assert np.array_equal(forward.coef, backward.coef)
    assert forward.info["fingerprint"] == backward.info["fingerprint"] == fingerprint(SMALL)


@pytest.mark.parametrize(
    ("examples", "message"),
    [
        ([*SMALL, ("hello", "greeting")], "unknown nature"),
        ([("a", "praise"), ("b", "praise")], "at least two natures"),
        ([*SMALL, ("is it open?", "question")], "at least two natures"),
    ],
)
def test_training_data_that_cannot_make_a_model_is_refused(
    examples: list[tuple[str, str]], message: str
) -> None:
    with pytest.raises(NatureModelError, match=message):
        train(examples)


def test_a_file_that_is_not_a_model_is_a_clear_error(tmp_path: Path) -> None:
    good = tmp_path / "good.npz"
    save(train(SMALL), good)
    arrays = dict(np.load(good, allow_pickle=False))
    cases = {
        "text.npz": b"not a model",
        "truncated.npz": good.read_bytes()[:500],
    }
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
    np.savez(tmp_path / "pickled.npz", info=np.array([{"format": 1}], dtype=object))
    np.savez(tmp_path / "format.npz", **{**arrays, "info": np.array(json.dumps({"format": 99}))})
    np.savez(tmp_path / "shape.npz", **{**arrays, "coef": arrays["coef"][:, :3]})
    np.savez(tmp_path / "natures.npz", **{**arrays, "classes": np.array(["a", "b", "c", "d"])})
    np.savez(tmp_path / "partial.npz", **{k: v for k, v in arrays.items() if k != "word_idf"})
    expected = {
        "text.npz": "not a nature model file",
        "truncated.npz": "not a nature model file",
        "pickled.npz": "not a nature model file",  # object arrays would need pickle: refused
        "format.npz": "model format 99",
        "shape.npz": "do not match",
        "natures.npz": "unknown natures",
        "partial.npz": "incomplete",
    }
    for name, message in expected.items():
        with pytest.raises(NatureModelError, match=message):
            load(tmp_path / name)
    with pytest.raises(NatureModelError, match="cannot read"):
        load_model(str(tmp_path / "missing.npz"))


def test_the_word_lists_safety_stands_unless_the_model_is_all_but_sure_and_the_model_can_add_safety() -> None:
    vote = ModelVote(train(SMALL), rules_weight=0.25, safety_threshold=0.3)
    calm = {"safety": 0.01, "praise": 0.97, "pricing": 0.01, "product_failure": 0.01}
    assert vote.choose(calm, "safety", 20)[0] == "safety"
    worried = {"safety": 0.31, "praise": 0.0, "pricing": 0.0, "product_failure": 0.69}
    assert vote.choose(worried, "product_failure", 20)[0] == "safety"
    close = {"safety": 0.0, "praise": 0.0, "pricing": 0.45, "product_failure": 0.55}
    assert vote.choose(close, "pricing", 20) == ("pricing", 0.45)  # the word lists tip a close call
    sure = {"safety": 0.0, "praise": 0.0, "pricing": 0.2, "product_failure": 0.8}
    assert vote.choose(sure, "pricing", 20) == ("product_failure", 0.8)
    assert vote.choose(sure, "pricing", 5)[0] == "pricing"  # a short text: the matched term weighs more
    floored = ModelVote(vote.model, rules_weight=0.25, safety_threshold=0.3, rules_safety_floor=0.03)
    assert floored.choose(calm, "safety", 5) == ("praise", 0.97)  # the model is all but sure
    assert floored.choose({**calm, "safety": 0.03, "praise": 0.95}, "safety", 5)[0] == "safety"


def test_the_shipped_model_is_trained_on_the_current_labelled_sets() -> None:
    """Edit a labelled line and this fails until `make model` retrains the shipped file."""
    data = read_training_data([FIXTURES], exclude=HELD_OUT)
    assert not data.errors
    shipped = load(BUILTIN_PATH)
    assert shipped.info["trained_on"] == len(data.lines)
    assert shipped.info["fingerprint"] == fingerprint(data.examples())


def test_triage_names_the_model_in_the_explanation_and_can_do_without_it(tmp_path: Path) -> None:
    text = "the app logs me out every five minutes and support keeps sending the same link"
    config = config_from_dict(base_config(tmp_path), base_dir=str(tmp_path))
    assert config.triage.nature_model == "builtin"
    voted = triage_interaction(mention(text), None, config.triage, NOW)
    assert "model 0." in voted.explanation
    plain = config_from_dict(base_config(tmp_path, triage={"nature_model": None}), base_dir=str(tmp_path))
    assert "model" not in triage_interaction(mention(text), None, plain.triage, NOW).explanation


def test_a_model_file_is_found_next_to_the_configuration_and_checked_at_start_up(tmp_path: Path) -> None:
    save(train(SMALL), tmp_path / "ours.npz")
    config = config_from_dict(
        base_config(tmp_path, triage={"nature_model": "ours.npz"}), base_dir=str(tmp_path)
    )
    assert config.triage.nature_model == str(tmp_path / "ours.npz")
    Runtime(config)
    result = triage_interaction(mention("salió humo del enchufe"), None, config.triage, NOW)
    assert result.nature == "safety" and result.priority == "P1"
    missing = config_from_dict(
        base_config(tmp_path, triage={"nature_model": "nope.npz"}), base_dir=str(tmp_path)
    )
    with pytest.raises(ConfigError, match=r"triage\.nature_model: .*nope\.npz"):
        Runtime(missing)


def _labelled(path: Path, lines: list[tuple[str, str]], bad: bool = False) -> None:
    rows = [
        json.dumps(
            {
                "platform": "generic",
                "kind": "comment",
                "external_id": f"t-{i}",
                "author": {"platform_user_id": f"u{i}"},
                "text": text,
                "created_at": "2026-11-20T10:00:00Z",
                "label": {"nature": nature, "language": "en"},
            }
        )
        for i, (text, nature) in enumerate(lines)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(rows + (["{not json"] if bad else [])) + "\n", encoding="utf-8")


def test_the_cli_trains_a_model_that_triage_eval_then_uses(tmp_path: Path) -> None:
    _labelled(tmp_path / "sets" / "a" / "en.jsonl", SMALL[:6])
    _labelled(tmp_path / "sets" / "b" / "en.jsonl", SMALL[6:])
    _labelled(tmp_path / "sets" / "secret" / "en.jsonl", [("never read", "other")])
    out = tmp_path / "model.npz"
    result = CliRunner().invoke(
        main, ["triage", "train", str(tmp_path / "sets"), "--exclude", "secret", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "training on 12 labelled lines from 2 file(s)" in result.output
    assert load(out).info["trained_on"] == 12 and "other" not in load(out).classes
    config_file = tmp_path / "config.yaml"
    config = base_config(tmp_path, triage={"nature_model": "model.npz"})
    config_file.write_text(json.dumps(config), encoding="utf-8")
    evaluated = CliRunner().invoke(
        main,
        ["triage", "eval", str(tmp_path / "sets" / "b" / "en.jsonl"), "--json", "--config", str(config_file)],
    )
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.output)["nature_accuracy"] > 0


def test_the_cli_reports_bad_lines_and_refuses_an_empty_training_set(tmp_path: Path) -> None:
    _labelled(tmp_path / "sets" / "en.jsonl", SMALL, bad=True)
    result = CliRunner().invoke(
        main, ["triage", "train", str(tmp_path / "sets"), "--out", str(tmp_path / "m.npz")]
    )
    assert result.exit_code == 1
    assert "en.jsonl:13: not JSON" in result.output and "1 bad line(s) skipped" in result.output
    assert (tmp_path / "m.npz").exists()
    (tmp_path / "empty.jsonl").write_text("\n", encoding="utf-8")
    empty = CliRunner().invoke(
        main, ["triage", "train", str(tmp_path / "empty.jsonl"), "--out", str(tmp_path / "e.npz")]
    )
    assert empty.exit_code == 1 and "no labelled line found" in empty.output


@pytest.mark.parametrize(
    ("text", "nature"),
    [
        ("Gracias, pero sigue sin funcionar", "product_failure"),  # short: the matched term weighs
        ("Not bad at all, works great 👍", "praise"),
        ("it does not work", "product_failure"),
        ("my refund still hasn't arrived three weeks after you collected the sofa", "after_sales"),
        ("2 hours on hold and nobody picks up, this is a joke", "complaint_handling"),
        ("the battery barely lasts 3 hours, you advertised 10", "performance"),
        ("you charged me twice for the same order", "pricing"),
        ("what time do you open on sundays?", "question"),
        ("the charger was too hot to touch and the plug has a brown mark", "safety"),
        ("me llegó la lavadora con la puerta rota y nadie me da solución", "product_failure"),
        ("el internet va lentísimo desde el cambio de tarifa, 20 megas de 600 contratados", "performance"),
        ("mi hijo se cortó con el borde de la tapa del bote", "safety"),
    ],
)
def test_the_default_triage_with_the_shipped_model(text: str, nature: str) -> None:
    result = triage_interaction(mention(text), None, TriageSettings(), NOW)
    assert result.nature == nature, result.explanation
