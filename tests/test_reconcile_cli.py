"""``ventanilla reconcile``: a comment the webhooks never delivered becomes a ticket."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from connector.cli import main, parse_duration
from connector.model import utcnow
from connector.reconcile_schedule import ReconcileSchedule
from tests.conftest import IG_ACCOUNT_ID, META_PAGE_ID
from tests.emulators.meta_graph import MetaGraphEmulator
from tests.publish_support import make_loop, meta_settings, write_config

POST = f"{META_PAGE_ID}_5001"


def test_durations_read_like_people_write_them() -> None:
    assert parse_duration("90m") == timedelta(minutes=90)
    assert parse_duration("6h") == timedelta(hours=6)
    assert parse_duration(" 2D ") == timedelta(days=2)
    assert parse_duration("1.5h") == timedelta(minutes=90)
    for bad in ("", "six hours", "0h", "-1h", "10"):
        with pytest.raises(click.BadParameter):
            parse_duration(bad)


def test_reconcile_recovers_a_missed_comment_into_a_ticket(tmp_path: Path) -> None:
    with MetaGraphEmulator(page_id=META_PAGE_ID, ig_user_id=IG_ACCOUNT_ID) as graph:
        created = utcnow() - timedelta(hours=2)
        graph.add_post(POST, created - timedelta(days=1), "Launch day")
        graph.add_comment(
            POST, "5001_77", "3450429531722233", "Susie Example", "The app charges me twice", created
        )
        loop = make_loop(tmp_path, meta=meta_settings(graph))
        config_file = write_config(loop.config, tmp_path / "config.yaml")
        runner = CliRunner()
        result = runner.invoke(main, ["reconcile", "--since", "6h", "--config", str(config_file)])
        assert "recovered 1 interaction(s)" in result.output, result.output
        (ticket,) = loop.tickets()
        assert ticket["thread_key"] == f"facebook:{META_PAGE_ID}:{POST}"
        again = runner.invoke(main, ["reconcile", "--since", "6h", "--config", str(config_file)])
        assert "recovered 0 interaction(s)" in again.output
        assert len(loop.tickets()) == 1


def test_a_bad_duration_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["reconcile", "--since", "yesterday"])
    assert result.exit_code == 2 and "not a duration" in result.output


def test_the_schedule_inside_serve_runs_reconcile(tmp_path: Path) -> None:
    with MetaGraphEmulator(page_id=META_PAGE_ID, ig_user_id=IG_ACCOUNT_ID) as graph:
        created = utcnow() - timedelta(minutes=30)
        graph.add_post(POST, created - timedelta(hours=1))
        graph.add_comment(
            POST, "5001_78", "3450429531722233", "Susie Example", "Where is my parcel?", created
        )
        loop = make_loop(tmp_path, meta=meta_settings(graph))
        schedule = ReconcileSchedule(loop.runtime)
        assert schedule.run_once() == 1
        assert schedule.run_once() == 0


def test_an_instagram_account_listed_only_among_brand_ids_is_read_as_instagram(tmp_path: Path) -> None:
    from connector.config import config_from_dict
    from connector.reconcile import plan_sources
    from tests.conftest import base_config

    data = base_config(tmp_path)
    data["platforms"]["meta"]["page_access_token"] = "token"
    keys = [source.key for source in plan_sources(config_from_dict(data))]
    assert f"facebook:{META_PAGE_ID}" in keys and f"instagram:{IG_ACCOUNT_ID}" in keys
    assert f"facebook:{IG_ACCOUNT_ID}" not in keys
