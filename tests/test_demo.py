"""`ventanilla demo` end to end, over a real socket, with its own checks."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from connector.cli import main
from connector.config import config_from_dict
from connector.crm.local import list_local_tickets
from connector.demo import EXPECTED_THREADS
from connector.store import Store


def test_demo_runs_the_whole_loop_and_exits_zero(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["demo", "--keep", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "checks passed" in result.output
    assert "401 an X mention with a bad signature" in result.output
    store = Store(config_from_dict({"database_url": f"sqlite:///{tmp_path / 'demo.db'}"}).database_url)
    tickets = list_local_tickets(store)
    assert len(tickets) == EXPECTED_THREADS
    assert sorted(t["status"] for t in tickets).count("resolved") == 1
    (reply,) = store.list_replies()
    assert reply.platform == "facebook" and reply.state == "posted"
    store.dispose()
