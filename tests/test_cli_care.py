"""The CLI commands support teams use day to day: sla report, privacy erase."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner
from flask.testing import FlaskClient

from connector.cli import main
from connector.config import Config
from connector.dispatcher import Dispatcher
from connector.model import utcnow
from connector.runtime import Runtime
from connector.store import Store
from tests.publish_support import fb_comment, write_config
from tests.signing import compact, post_meta

POST = "103149398319188_407298303721936"


def _deliver(client: FlaskClient, comment_id: str, text: str, hours_ago: float, user: str) -> None:
    payload = fb_comment(comment_id, text, utcnow() - timedelta(hours=hours_ago), post_id=POST, user=user)
    assert post_meta(client, compact(payload)).status_code == 200


def test_sla_report_lists_what_is_unanswered_most_overdue_first(
    tmp_path: Path, config: Config, store: Store, client: FlaskClient
) -> None:
    _deliver(client, "407298303721936_1", "My charger caught fire", 3, "111")
    _deliver(client, "407298303721936_2", "Where can I buy the blue one?", 0.1, "222")
    Dispatcher(Runtime(config, store)).run_until_idle()
    config_file = write_config(config, tmp_path / "c.yaml")
    result = CliRunner().invoke(main, ["sla", "report", "--json", "--config", str(config_file)])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert rows[0]["priority"] == "P1"
    overdue = CliRunner().invoke(main, ["sla", "report", "--overdue-only", "--config", str(config_file)])
    assert overdue.exit_code == 0 and "caught fire" in overdue.output and "blue one" not in overdue.output


def test_privacy_erase_prints_what_it_touched_and_is_idempotent(
    tmp_path: Path, config: Config, store: Store, client: FlaskClient
) -> None:
    _deliver(client, "407298303721936_3", "Soy Ana, mi email es ana@example.com", 1, "3450429531722233")
    Dispatcher(Runtime(config, store)).run_until_idle()
    config_file = write_config(config, tmp_path / "c.yaml")
    args = [
        "privacy",
        "erase",
        "--platform",
        "facebook",
        "--user-id",
        "3450429531722233",
        "--config",
        str(config_file),
    ]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    assert "interactions" in first.output
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0 and "already erased" in again.output
    nobody = CliRunner().invoke(
        main, ["privacy", "erase", "--platform", "facebook", "--user-id", "999", "--config", str(config_file)]
    )
    assert nobody.exit_code == 1 and "Nothing is stored" in nobody.output
    stored = store.interaction_by_external("facebook", "407298303721936_3")
    assert stored is not None and "ana@example.com" not in stored.text
