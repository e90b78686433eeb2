"""What teams tune: the priority matrix, the brand's own terms, a classifier plug-in."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.classifier_plugin import load_classifier
from connector.config import ConfigError, PriorityMatrix, config_from_dict
from connector.runtime import Runtime
from connector.triage import choose_priority, triage_interaction
from tests.conftest import base_config
from tests.triage_support import NOW, mention


def test_the_default_matrix_reads_like_a_support_lead() -> None:
    matrix = PriorityMatrix()
    assert choose_priority("safety", 0.1, 0.0, 0.2, False, matrix) == "P1"  # safety is always P1
    assert choose_priority("question", 0.12, 0.3, 0.2, False, matrix) == "P4"
    assert choose_priority("praise", 0.03, 0.9, 0.2, False, matrix) == "P4"
    assert choose_priority("product_failure", 0.45, 0.3, 0.2, False, matrix) == "P3"
    assert choose_priority("product_failure", 0.45, 0.8, 0.2, False, matrix) == "P2"
    assert choose_priority("product_failure", 0.8, 0.3, 0.2, False, matrix) == "P2"
    assert choose_priority("product_failure", 0.8, 0.3, 1.0, False, matrix) == "P1"
    assert choose_priority("pricing", 0.2, 0.3, 0.2, True, matrix) == "P2"  # crisis floor


def test_a_matrix_from_the_config_changes_the_priority(tmp_path: Path) -> None:
    rules = [{"risk": "mid", "priority": "P1"}]
    config = config_from_dict(
        base_config(tmp_path, triage={"priority_matrix": {"rules": rules, "default": "P3"}}),
        base_dir=str(tmp_path),
    )
    result = triage_interaction(
        mention("My order never arrived and nobody tells me why"), None, config.triage, NOW
    )
    assert result.priority == "P1"


@pytest.mark.parametrize(
    ("matrix", "message"),
    [
        ({"rules": [{"risk": "huge", "priority": "P1"}]}, "levels low, mid, high"),
        ({"rules": [{"risk": "high", "priority": "P0"}]}, "priority must be one of"),
        ({"levels": {"risk": [0.8, 0.2]}}, "mid <= high"),
        ({"levels": {"reach": [0.1, 0.2]}}, "unknown axis"),
    ],
)
def test_a_bad_matrix_is_a_clear_configuration_error(
    tmp_path: Path, matrix: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        config_from_dict(base_config(tmp_path, triage={"priority_matrix": matrix}))


def test_brand_terms_from_yaml_are_used(tmp_path: Path) -> None:
    (tmp_path / "terms.yaml").write_text(
        'safety: ["modo turbo"]\nproduct_failure: ["error E42"]\n', encoding="utf-8"
    )
    config = config_from_dict(
        base_config(tmp_path, triage={"terms_file": "terms.yaml"}), base_dir=str(tmp_path)
    )
    Runtime(config)  # loads and checks the file at start-up
    result = triage_interaction(mention("la olla se puso en modo turbo sola"), None, config.triage, NOW)
    assert result.nature == "safety" and result.priority == "P1"
    assert triage_interaction(mention("sale el error E42 otra vez"), None, config.triage, NOW).nature == (
        "product_failure"
    )


def test_a_missing_or_broken_terms_file_stops_start_up(tmp_path: Path) -> None:
    config = config_from_dict(
        base_config(tmp_path, triage={"terms_file": "nope.yaml"}), base_dir=str(tmp_path)
    )
    with pytest.raises(ConfigError, match="terms_file"):
        Runtime(config)
    (tmp_path / "bad.yaml").write_text("safety: [unclosed", encoding="utf-8")
    config = config_from_dict(
        base_config(tmp_path, triage={"terms_file": "bad.yaml"}), base_dir=str(tmp_path)
    )
    with pytest.raises(ConfigError, match="terms_file"):
        Runtime(config)


@pytest.fixture
def plugin(tmp_path: Path) -> Iterator[str]:
    """A real installed entry point: a dist-info folder on sys.path, as pip would leave it."""
    site = tmp_path / "site"
    (site / "acme_model").mkdir(parents=True)
    (site / "acme_model" / "__init__.py").write_text(
        "def classify(text, language):\n"
        "    if 'warranty' in text or 'garantia' in text:\n"
        "        return 'after_sales'\n"
        "    return 'pricing' if 'everything' in text else None\n",
        encoding="utf-8",
    )
    info = site / "acme_model-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: acme-model\nVersion: 1.0\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        "[ventanilla.classifiers]\nacme = acme_model:classify\n", encoding="utf-8"
    )
    sys.path.insert(0, str(site))
    load_classifier.cache_clear()
    yield "acme"
    sys.path.remove(str(site))
    sys.modules.pop("acme_model", None)
    load_classifier.cache_clear()


def test_a_classifier_plugin_decides_the_nature_but_never_hides_safety(tmp_path: Path, plugin: str) -> None:
    config = config_from_dict(base_config(tmp_path, triage={"classifier": plugin}), base_dir=str(tmp_path))
    Runtime(config)
    assert (
        triage_interaction(mention("is the warranty two years?"), None, config.triage, NOW).nature
        == "after_sales"
    )
    fire = triage_interaction(
        mention("my charger caught fire, is that covered by warranty?"), None, config.triage, NOW
    )
    assert fire.nature == "safety" and fire.priority == "P1"
    unknown = triage_interaction(mention("thanks, great service"), None, config.triage, NOW)
    assert unknown.nature == "praise"  # the plug-in said None: ours stays


def test_an_unknown_classifier_stops_start_up(tmp_path: Path) -> None:
    config = config_from_dict(base_config(tmp_path, triage={"classifier": "nope"}), base_dir=str(tmp_path))
    with pytest.raises(ConfigError, match="no classifier 'nope'"):
        Runtime(config)
