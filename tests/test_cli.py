"""The command line, as an operator uses it: config file, JSON output, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from connector.cli import main
from connector.config import config_from_dict
from connector.crm.base import ConnectorError
from connector.crm.local import LocalDesk
from connector.dispatcher import Dispatcher
from connector.model import Author, InboundBatch, Interaction, utcnow
from connector.runtime import Runtime
from connector.store import Store
from tests.conftest import base_config


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "ventanilla.yaml"
    path.write_text(yaml.safe_dump(base_config(tmp_path)), encoding="utf-8")
    return path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def seed_ticket(config_file: Path, text: str = "My order never arrived") -> Store:
    data = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    config = config_from_dict(data, base_dir=str(config_file.parent))
    store = Store(config.database_url)
    store.create_schema()
    item = Interaction(
        platform="x",
        kind="mention",
        external_id="1901612345678901234",
        thread_key="x:2244994945:1901612345678901234",
        brand_account_id="2244994945",
        author=Author("x", "987654321", handle="janedoe", followers_count=10),
        text=text,
        created_at=utcnow(),
        language="en",
    )
    store.ingest("x", b"{}", {}, InboundBatch(interactions=(item,)))
    Dispatcher(Runtime(config, store)).run_until_idle()
    return store


def test_help_lists_every_command() -> None:
    code, output = run("--help")
    assert code == 0
    for command in (
        "serve",
        "demo",
        "dispatch",
        "tickets",
        "replies",
        "customers",
        "mappings",
        "deadletters",
    ):
        assert command in output


def test_tickets_list_json_has_the_documented_keys(config_file: Path) -> None:
    seed_ticket(config_file)
    code, output = run("tickets", "list", "--json", "--config", str(config_file))
    assert code == 0
    (ticket,) = json.loads(output)
    for key in (
        "id",
        "desk",
        "system",
        "thread_key",
        "status",
        "priority",
        "explanation",
        "customer_id",
        "interaction_count",
    ):
        assert key in ticket
    assert (ticket["system"], ticket["interaction_count"], ticket["customer_id"]) == ("local", 1, None)


def test_config_comes_from_the_environment_too(config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seed_ticket(config_file)
    monkeypatch.setenv("VENTANILLA_CONFIG", str(config_file))
    code, output = run("tickets", "list", "--json")
    assert code == 0 and len(json.loads(output)) == 1


def test_resolve_produces_the_reply_and_refuses_a_second_resolution(config_file: Path) -> None:
    seed_ticket(config_file)
    code, output = run("tickets", "resolve", "1", "--note", "Courier found it", "--config", str(config_file))
    assert code == 0, output
    assert "reply (dry-run, posted, public) on x to 1901612345678901234" in output
    code, output = run("tickets", "resolve", "1", "--note", "again", "--config", str(config_file))
    assert code == 1 and "already resolved" in output
    code, output = run("replies", "list", "--json", "--config", str(config_file))
    (reply,) = json.loads(output)
    assert (reply["ticket_id"], reply["platform"], reply["in_reply_to"], reply["mode"]) == (
        "1",
        "x",
        "1901612345678901234",
        "dry-run",
    )
    assert reply["text"]


def test_an_agent_written_reply_wins_over_the_template(config_file: Path) -> None:
    seed_ticket(config_file)
    code, output = run(
        "tickets",
        "resolve",
        "L-000001",
        "--note",
        "n",
        "--reply",
        "@janedoe It is on its way!",
        "--config",
        str(config_file),
    )
    assert code == 0
    assert "@janedoe It is on its way!" in output


def test_resolving_an_unknown_ticket_is_a_clear_error(config_file: Path) -> None:
    code, output = run("tickets", "resolve", "42", "--note", "x", "--config", str(config_file))
    assert code == 1 and "no ticket 42" in output


def test_customers_import_reports_every_bad_row_and_writes_nothing(config_file: Path, tmp_path: Path) -> None:
    csv = tmp_path / "bad.csv"
    csv.write_text("customer_id,value,email\nC-1,abc,a@b.c\n,5,x@y.z\nC-1,3,not-an-email\n", encoding="utf-8")
    code, output = run("customers", "import", str(csv), "--config", str(config_file))
    assert code == 1
    assert f"{csv}:2: value 'abc' is not a number" in output
    assert f"{csv}:3: customer_id is empty" in output
    assert f"{csv}:4: customer_id C-1 already on line 2" in output
    assert f"{csv}:4: email 'not-an-email' is not an email address" in output


def test_customers_import_then_reimport_updates(config_file: Path, tmp_path: Path) -> None:
    csv = tmp_path / "customers.csv"
    csv.write_text("customer_id,name,value,x_handle\nC-1,Jane,9000,@JaneDoe\n", encoding="utf-8")
    code, output = run("customers", "import", str(csv), "--config", str(config_file))
    assert code == 0 and "1 created, 0 updated, 1 identities" in output
    code, output = run("customers", "import", str(csv), "--config", str(config_file))
    assert "0 created, 1 updated" in output
    store = seed_ticket(config_file)
    code, output = run("tickets", "list", "--json", "--config", str(config_file))
    assert json.loads(output)[0]["customer_id"] == "C-1"  # matched by handle, case and @ ignored
    store.dispose()


def test_unknown_csv_columns_are_refused(config_file: Path, tmp_path: Path) -> None:
    csv = tmp_path / "c.csv"
    csv.write_text("customer_id,tiktok_handle\nC-1,@x\n", encoding="utf-8")
    code, output = run("customers", "import", str(csv), "--config", str(config_file))
    assert code == 1 and "unknown column(s) tiktok_handle" in output


class DownDesk(LocalDesk):
    def upsert_tickets(self, drafts: object) -> list[object]:
        raise ConnectorError("HTTP 503 from the desk")


def test_deadletters_list_and_replay(config_file: Path) -> None:
    data = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    data["dispatcher"]["max_attempts"] = 1
    config_file.write_text(yaml.safe_dump(data), encoding="utf-8")
    config = config_from_dict(data, base_dir=str(config_file.parent))
    store = Store(config.database_url)
    store.create_schema()
    runtime = Runtime(config, store)
    runtime.connectors["support"] = DownDesk(store, "support")
    item = Interaction(
        platform="x",
        kind="mention",
        external_id="5",
        thread_key="x:b:5",
        brand_account_id="b",
        author=Author("x", "9"),
        text="hola",
        created_at=utcnow(),
    )
    store.ingest("x", b"{}", {}, InboundBatch(interactions=(item,)))
    Dispatcher(runtime).run_until_idle()
    code, output = run("deadletters", "list", "--json", "--config", str(config_file))
    (dead,) = json.loads(output)
    assert "HTTP 503" in dead["error"]
    code, output = run("deadletters", "replay", "--config", str(config_file))
    assert code == 2 and "give dead letter IDs or --all" in output
    code, output = run("deadletters", "replay", str(dead["id"]), "--config", str(config_file))
    assert code == 0 and "1 dead letter(s) queued again" in output
    code, output = run("deadletters", "replay", str(dead["id"]), "--config", str(config_file))
    assert code == 1 and "already replayed" in output
    code, output = run("dispatch", "--config", str(config_file))
    assert code == 0 and "1 job(s) handled" in output
    code, output = run("tickets", "list", "--json", "--config", str(config_file))
    assert len(json.loads(output)) == 1
    store.dispose()


def test_a_bad_config_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("database_url: sqlite:///x.db\nplatfroms: {}\n", encoding="utf-8")
    code, output = run("tickets", "list", "--config", str(path))
    assert code == 1 and "platfroms: Extra inputs are not permitted" in output


def test_a_missing_environment_variable_is_named_not_leaked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("META_SECRET_FOR_TEST", raising=False)
    path = tmp_path / "c.yaml"
    path.write_text("platforms:\n  meta:\n    app_secret: ${META_SECRET_FOR_TEST}\n", encoding="utf-8")
    code, output = run("tickets", "list", "--config", str(path))
    assert (
        code == 1
        and "platforms.meta.app_secret: environment variable META_SECRET_FOR_TEST is not set" in output
    )


def test_mappings_validate_and_preview(tmp_path: Path) -> None:
    code, output = run("mappings", "validate", "local.yaml")
    assert code == 0 and "local.yaml: ok" in output
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 2\n", encoding="utf-8")
    code, output = run("mappings", "validate", str(bad))
    assert code == 1 and f"{bad}:1:" in output
    payload = Path(__file__).parent / "fixtures" / "mappings"
    sample = payload / "payload.json"
    code, output = run("mappings", "preview", "--mapping", "local.yaml", "--payload", str(sample))
    assert code == 0, output
    assert "subject" in json.loads(output)
