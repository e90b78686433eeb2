"""Crisis detection end to end: signed X mentions in, crises, alerts and incident tickets out.

Time is controlled through the mentions' own timestamps (``timestamp_ms``), never by sleeping:
detection windows and baselines run on when people wrote, not on when we received it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update

from connector.config import Config, config_from_dict
from connector.crisis import crisis_report, is_incident_ticket
from connector.crisis_incident import run_crisis_job
from connector.crisis_topics import display_topic, hashtags, key_terms, topics_of
from connector.crm.local import LocalDesk, list_local_tickets
from connector.db import insert_ignore
from connector.dispatcher import Dispatcher
from connector.model import Triage, utcnow
from connector.outbox import JOB_CRISIS, rerun
from connector.runtime import Runtime
from connector.schema import crises, crisis_members, interactions, outbox
from connector.store import Store
from tests.conftest import X_BRAND_IDS, base_config
from tests.signing import compact, post_x
from webhooks import create_app

BRAND = X_BRAND_IDS[0]


# --- a Slack-compatible webhook receiver ---------------------------------------------------


@dataclass
class AlertReceiver:
    """A real HTTP endpoint on 127.0.0.1 that records every JSON body POSTed to it."""

    url: str = ""
    received: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answered in order, then 200

    @property
    def delivered(self) -> list[dict[str, Any]]:
        """The alerts that were accepted (answered 2xx)."""
        return [body for status, body in self.received if status == 200]


def _handler(receiver: AlertReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            status = receiver.statuses.pop(0) if receiver.statuses else 200
            receiver.received.append((status, body))
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok" if status == 200 else b"error")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def alerts() -> Iterator[AlertReceiver]:
    receiver = AlertReceiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/services/T000/B000/secret"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()


# --- the app, configured with a crisis webhook ----------------------------------------------


def crisis_config(tmp_path: Path, url: str, database_url: str | None = None, **crisis: Any) -> Config:
    data = base_config(tmp_path, crisis={"webhook_url": url, **crisis})
    if database_url is not None:
        data["database_url"] = database_url
    return config_from_dict(data, base_dir=str(tmp_path))


@pytest.fixture
def config(tmp_path: Path, alerts: AlertReceiver) -> Config:
    return crisis_config(tmp_path, alerts.url)


@pytest.fixture
def runtime(config: Config, store: Store) -> Runtime:
    return Runtime(config, store)


@pytest.fixture
def dispatcher(runtime: Runtime) -> Dispatcher:
    return Dispatcher(runtime)


_sequence = iter(range(10**6))


def tweet(text: str, at: datetime, user: str | None = None) -> dict[str, Any]:
    """One X mention of the brand, written at ``at``."""
    n = next(_sequence)
    user_id = user or str(5_000_000 + n)
    return {
        "created_at": at.strftime("%a %b %d %H:%M:%S +0000 %Y"),
        "id_str": str(1_900_000_000_000_000_000 + n),
        "text": f"@AcmeSupport {text}",
        "user": {
            "id_str": user_id,
            "screen_name": f"user{user_id}",
            "name": "Someone",
            "followers_count": 120,
        },
        "entities": {"hashtags": [], "user_mentions": [{"screen_name": "AcmeSupport", "id_str": BRAND}]},
        "lang": "es",
        "timestamp_ms": str(int(at.timestamp() * 1000)),
    }


def deliver(client: FlaskClient, tweets: list[dict[str, Any]]) -> None:
    """POST one signed Account Activity delivery carrying ``tweets``."""
    response = post_x(client, compact({"for_user_id": BRAND, "tweet_create_events": tweets}))
    assert response.status_code == 200, response.get_data(as_text=True)


def mention(client: FlaskClient, text: str, at: datetime, user: str | None = None) -> None:
    deliver(client, [tweet(text, at, user)])


def burst(client: FlaskClient, texts: list[str], end: datetime, span: timedelta) -> None:
    """Mentions evenly spread over ``span`` up to ``end``, oldest first."""
    step = span / max(len(texts) - 1, 1)
    for index, text in enumerate(texts):
        mention(client, text, end - span + step * index)


def drain(dispatcher: Dispatcher, store: Store, rounds: int = 40) -> None:
    """Run until no job is pending, waiting out the (tiny, configured) retry backoff."""
    for _ in range(rounds):
        dispatcher.run_until_idle()
        if store.counts()["pending_jobs"] == 0:
            return
        time.sleep(0.02)
    raise AssertionError("jobs still pending")


ESTAFA = [f"me cobraron dos veces y nadie responde, esto es una estafa #Estafa ({n})" for n in range(30)]


def stored_triages(store: Store) -> dict[int, Triage]:
    with store.read() as conn:
        rows = conn.execute(select(interactions.c.id, interactions.c.triage)).all()
    return {int(r.id): Triage.from_dict(r.triage) for r in rows if r.triage}


def tickets_by_id(store: Store) -> dict[str, dict[str, Any]]:
    return {t["id"]: t for t in list_local_tickets(store)}


# --- the acceptance scenario -----------------------------------------------------------------


def test_a_burst_over_a_quiet_baseline_raises_one_crisis_alerted_with_its_parent_ticket(
    client: FlaskClient, store: Store, dispatcher: Dispatcher, alerts: AlertReceiver, runtime: Runtime
) -> None:
    now = utcnow()
    # A quiet baseline: three complaints on the same tag over the previous day.
    burst(client, ESTAFA[:3], now - timedelta(hours=2), timedelta(hours=20))
    drain(dispatcher, store)
    assert crisis_report(store) == []
    burst(client, ESTAFA, now - timedelta(seconds=30), timedelta(minutes=9))
    drain(dispatcher, store)

    (crisis,) = crisis_report(store, runtime.config.crisis)
    assert (crisis["topic"], crisis["state"], crisis["count"], crisis["window_count"]) == (
        "#estafa",
        "open",
        30,
        30,
    )
    assert crisis["alerted"]
    (alert,) = alerts.delivered
    assert "Crisis: #estafa — 30 negative interactions in 10 min" in alert["text"]
    assert alert["blocks"][0]["text"]["text"] == "Crisis: #estafa"
    assert "me cobraron" not in json.dumps(alert)  # counts only: customers' words stay on the tickets

    tickets = tickets_by_id(store)
    parent = tickets[crisis["parent_ticket_id"]]
    assert parent["priority"] == "P1"
    assert parent["subject"] == "Crisis: #estafa — 30 negative interactions in 10 min"
    assert is_incident_ticket(store, "local", parent["id"])
    desk = LocalDesk(store, "support")
    children = [t for t in tickets.values() if t["id"] != parent["id"]]
    assert len(children) == 33  # 3 from the baseline, 30 from the burst
    burst_children = [t for t in children if desk.ticket_fields(t["id"]).get("incident_ticket_id")]
    assert len(burst_children) == 30
    assert all(desk.ticket_fields(t["id"])["incident_ticket_id"] == parent["id"] for t in burst_children)
    assert all(t["priority"] in ("P1", "P2") for t in burst_children)
    assert sorted(desk.ticket_fields(parent["id"])["incident_children"], key=int) == sorted(
        (t["id"] for t in burst_children), key=int
    )
    flagged = [t for t in stored_triages(store).values() if "crisis #estafa (30 in 10 min)" in t.explanation]
    assert len(flagged) == 30
    assert all(t.crisis and t.priority in ("P1", "P2") for t in flagged)

    # A second wave while the crisis is open joins it: no second crisis, no second alert.
    more = [f"sigo sin mi dinero, #ESTAFA total ({n})" for n in range(30)]
    burst(client, more, utcnow(), timedelta(minutes=5))
    drain(dispatcher, store)
    (crisis,) = crisis_report(store)
    assert crisis["count"] == 60
    assert len(alerts.received) == 1
    assert len(LocalDesk(store, "support").ticket_fields(parent["id"])["incident_children"]) == 60
    assert len(list_local_tickets(store)) == 64
    assert sum(t.crisis for t in stored_triages(store).values()) >= 60


def test_earlier_children_already_ticketed_are_flagged_when_the_crisis_is_raised(
    client: FlaskClient, store: Store, dispatcher: Dispatcher, alerts: AlertReceiver
) -> None:
    now = utcnow()
    burst(client, ESTAFA[:15], now - timedelta(minutes=5), timedelta(minutes=4))
    drain(dispatcher, store)
    assert crisis_report(store) == []
    early = stored_triages(store)
    assert not any("crisis #estafa" in t.explanation for t in early.values())
    burst(client, ESTAFA[15:], now, timedelta(minutes=4))
    drain(dispatcher, store)
    (crisis,) = crisis_report(store)
    assert crisis["count"] == 30
    after = stored_triages(store)
    assert all("crisis #estafa (30 in 10 min)" in after[i].explanation for i in early)
    assert all(after[i].priority in ("P1", "P2") for i in early)
    assert len(alerts.delivered) == 1


def test_a_burst_processed_out_of_order_is_still_seen_whole(
    client: FlaskClient, store: Store, dispatcher: Dispatcher, alerts: AlertReceiver
) -> None:
    now = utcnow()
    # The second half of the burst arrives (and is processed) first; the first half, written
    # earlier, comes late (a retried delivery, the reconciler): its windows must reach forward.
    burst(client, ESTAFA[15:], now, timedelta(minutes=4))
    drain(dispatcher, store)
    assert crisis_report(store) == []
    burst(client, ESTAFA[:15], now - timedelta(minutes=5), timedelta(minutes=4))
    drain(dispatcher, store)
    (crisis,) = crisis_report(store)
    assert crisis["count"] == 30
    assert len(alerts.delivered) == 1


# --- what must not raise ----------------------------------------------------------------------

ORDINARY = [
    "hola, mi pedido {n} no ha llegado todavía, nadie responde",
    "llevo días esperando el pedido {n}, qué mal servicio",
    "my order {n} never arrived, terrible customer service",
    "el producto del pedido {n} vino roto, quiero cambiarlo",
    "me cobraron de más en el pedido {n}, revisen la factura",
    "the product in order {n} is broken, please help",
    "la talla del pedido {n} está mal, necesito cambio",
    "order {n} was charged twice, fix it",
    "pésima atención con el pedido {n}, no contestan el teléfono",
    "el repartidor dejó el pedido {n} en otra dirección",
    "gracias por nada, mi pedido {n} sigue perdido",
]


def test_an_ordinary_busy_day_sharing_common_words_raises_nothing(
    client: FlaskClient, store: Store, dispatcher: Dispatcher, alerts: AlertReceiver
) -> None:
    now = utcnow()
    # A day of complaints, then a busy 10 minutes: 25 complaints, all about "pedido"/"order".
    day = [ORDINARY[n % len(ORDINARY)].format(n=1000 + n) for n in range(30)]
    burst(client, day, now - timedelta(minutes=15), timedelta(hours=23))
    busy = [ORDINARY[n % len(ORDINARY)].format(n=2000 + n) for n in range(25)]
    burst(client, busy, now, timedelta(minutes=9))
    # And 15 mixed complaints over the last hour.
    mixed = [ORDINARY[(n * 7) % len(ORDINARY)].format(n=3000 + n) for n in range(15)]
    burst(client, mixed, now, timedelta(hours=1))
    drain(dispatcher, store)
    assert crisis_report(store) == []
    assert alerts.received == []
    assert not any(
        "crisis " in t.explanation and "min)" in t.explanation for t in stored_triages(store).values()
    )


def test_a_steady_rate_over_the_baseline_is_not_a_burst(
    client: FlaskClient, store: Store, dispatcher: Dispatcher, alerts: AlertReceiver
) -> None:
    now = utcnow()
    # A busy tag all day long: 30 an hour for 24 hours is 5 per window …
    start, step = now - timedelta(hours=24, minutes=12), timedelta(minutes=2)
    day = [tweet(f"otra vez sin servicio #caida ({n})", start + step * n) for n in range(720)]
    for first in range(0, len(day), 100):  # a hundred per delivery keeps the test fast
        deliver(client, day[first : first + 100])
    # … then 22 in the last ten minutes: past min_count, but not 5 times the usual rate.
    burst(client, [f"otra vez sin servicio #caida ({n})" for n in range(22)], now, timedelta(minutes=9))
    drain(dispatcher, store)
    assert crisis_report(store) == []
    assert alerts.received == []


def test_an_old_burst_replayed_or_reconciled_now_raises_nothing(
    client: FlaskClient, store: Store, dispatcher: Dispatcher, alerts: AlertReceiver
) -> None:
    burst(client, ESTAFA, utcnow() - timedelta(days=2), timedelta(minutes=9))
    drain(dispatcher, store)
    assert crisis_report(store) == []
    assert alerts.received == []


def test_the_brands_own_posts_never_count(
    client: FlaskClient, store: Store, dispatcher: Dispatcher, alerts: AlertReceiver
) -> None:
    now = utcnow()
    for n, text in enumerate(ESTAFA):
        mention(client, text, now - timedelta(seconds=n), user=BRAND)
    drain(dispatcher, store)
    assert crisis_report(store) == []


# --- several topics --------------------------------------------------------------------------


def test_two_hashtags_bursting_raise_two_crises(
    client: FlaskClient, store: Store, dispatcher: Dispatcher, alerts: AlertReceiver
) -> None:
    now = utcnow()
    caida = [f"la app no funciona desde hace una hora #AppCaída ({n})" for n in range(25)]
    burst(client, ESTAFA[:25] + caida, now, timedelta(minutes=8))
    drain(dispatcher, store)
    report = crisis_report(store)
    assert sorted(c["topic"] for c in report) == ["#appcaida", "#estafa"]
    assert all(c["count"] == 25 and c["alerted"] and c["parent_ticket_id"] for c in report)
    assert len(alerts.delivered) == 2


def test_one_burst_with_two_tags_is_one_crisis(
    client: FlaskClient, store: Store, dispatcher: Dispatcher, alerts: AlertReceiver
) -> None:
    texts = [f"no me dejan pagar #AcmeFail #estafa ({n})" for n in range(25)]
    burst(client, texts, utcnow(), timedelta(minutes=8))
    drain(dispatcher, store)
    (crisis,) = crisis_report(store)
    assert crisis["count"] == 25
    # Later mentions with only the other tag join the same crisis.
    burst(
        client,
        [f"otra estafa más, qué vergüenza #Estafa ({n})" for n in range(3)],
        utcnow(),
        timedelta(minutes=1),
    )
    drain(dispatcher, store)
    (crisis,) = crisis_report(store)
    assert crisis["count"] == 28


def test_shared_key_terms_without_hashtags_raise_one_crisis(
    client: FlaskClient, store: Store, dispatcher: Dispatcher, alerts: AlertReceiver
) -> None:
    words = ["fatal", "indignante", "ridículo", "lamentable"]
    texts = [f"no me devuelven el reembolso, {words[n % len(words)]} ({n})" for n in range(25)]
    burst(client, texts, utcnow(), timedelta(minutes=8))
    drain(dispatcher, store)
    (crisis,) = crisis_report(store)
    assert crisis["topic"] in ("devuelven", "reembolso")
    assert crisis["count"] == 25
    assert len(alerts.delivered) == 1
    assert display_topic(crisis["topic"]) in alerts.delivered[0]["text"]


def test_a_quiet_crisis_closes_and_a_new_burst_raises_a_new_one(
    client: FlaskClient, store: Store, dispatcher: Dispatcher, alerts: AlertReceiver
) -> None:
    burst(client, ESTAFA[:25], utcnow(), timedelta(minutes=8))
    drain(dispatcher, store)
    (first,) = crisis_report(store)
    # Seven hours without a new #estafa (the cooldown is six).
    with store.write() as conn:
        conn.execute(update(crises).values(last_seen_at=utcnow() - timedelta(hours=7)))
    burst(client, [f"otra vez #estafa ({n})" for n in range(25)], utcnow(), timedelta(minutes=8))
    drain(dispatcher, store)
    report = crisis_report(store)
    assert [c["state"] for c in report] == ["open", "closed"]
    assert report[1]["id"] == first["id"]
    assert len(alerts.delivered) == 2


# --- failures and crashes ----------------------------------------------------------------------


def test_an_alert_endpoint_failing_once_is_retried_and_alerts_once(
    client: FlaskClient, store: Store, dispatcher: Dispatcher, alerts: AlertReceiver
) -> None:
    alerts.statuses = [500]
    burst(client, ESTAFA, utcnow(), timedelta(minutes=9))
    drain(dispatcher, store)
    assert [status for status, _ in alerts.received] == [500, 200]
    (crisis,) = crisis_report(store)
    assert crisis["alerted"] and crisis["parent_ticket_id"]
    assert store.list_dead_letters() == []


def test_an_alert_endpoint_that_never_answers_2xx_becomes_a_dead_letter(
    client: FlaskClient, store: Store, dispatcher: Dispatcher, alerts: AlertReceiver
) -> None:
    alerts.statuses = [503] * 3
    burst(client, ESTAFA, utcnow(), timedelta(minutes=9))
    drain(dispatcher, store)
    (dead,) = store.list_dead_letters()
    assert (dead.kind, dead.error) == (JOB_CRISIS, f"crisis {dead.ref_id}: alert webhook answered 503")
    assert alerts.url not in dead.error
    (crisis,) = crisis_report(store)
    assert not crisis["alerted"]
    assert crisis["parent_ticket_id"]  # the incident does not wait for the alert


def test_the_crisis_job_rerun_after_a_crash_makes_no_second_alert_or_ticket(
    client: FlaskClient, store: Store, dispatcher: Dispatcher, alerts: AlertReceiver, runtime: Runtime
) -> None:
    burst(client, ESTAFA, utcnow(), timedelta(minutes=9))
    drain(dispatcher, store)
    (crisis,) = crisis_report(store)
    tickets_before = len(list_local_tickets(store))
    # A worker died after the desk created the parent but before its id (and the links)
    # were recorded: the job is still leased, and its lease runs out.
    with store.write() as conn:
        conn.execute(
            update(crises).values(
                desk=None, parent_system=None, parent_ticket_id=None, parent_ticket_number=None
            )
        )
        conn.execute(update(crisis_members).values(linked_at=None))
        conn.execute(
            update(outbox)
            .where(outbox.c.kind == JOB_CRISIS)
            .values(state="leased", lease_owner="dead-worker", lease_until=utcnow() - timedelta(seconds=1))
        )
    drain(dispatcher, store)
    (again,) = crisis_report(store)
    assert again["parent_ticket_id"] == crisis["parent_ticket_id"]
    assert len(list_local_tickets(store)) == tickets_before
    assert len(alerts.received) == 1
    # And running the whole job once more changes nothing.
    run_crisis_job(runtime, crisis["id"])
    assert len(alerts.received) == 1
    assert len(list_local_tickets(store)) == tickets_before
    fields = LocalDesk(store, "support").ticket_fields(crisis["parent_ticket_id"])
    assert len(fields["incident_children"]) == 30


def test_a_crisis_job_woken_while_running_runs_again(store: Store) -> None:
    now = utcnow()
    with store.write() as conn:
        rerun(conn, JOB_CRISIS, 7, now)
    (job,) = store.claim_jobs([JOB_CRISIS], 10, 60, "worker-a")
    with store.write() as conn:  # a batch adds children while worker-a is running the job
        rerun(conn, JOB_CRISIS, 7, now)
    store.complete_jobs([job])  # worker-a's completion no longer matches its lease
    (again,) = store.claim_jobs([JOB_CRISIS], 10, 60, "worker-b")
    assert again.ref_id == 7
    store.complete_jobs([again])
    assert store.claim_jobs([JOB_CRISIS], 10, 60, "worker-c") == []


# --- exactly-once on both databases ---------------------------------------------------------------


def test_one_open_crisis_per_topic_is_enforced_by_the_database(any_store: Store) -> None:
    now = utcnow()
    row = {
        "topic": "#estafa",
        "open_key": "#estafa",
        "state": "open",
        "started_at": now,
        "window_start": now,
        "window_count": 20,
        "baseline_per_window": 0.0,
        "last_seen_at": now,
        "interaction_count": 20,
        "created_at": now,
    }
    with any_store.write() as conn:
        first = insert_ignore(conn, crises, row, ("open_key",))
        assert first is not None
        assert insert_ignore(conn, crises, row, ("open_key",)) is None
        conn.execute(update(crises).where(crises.c.id == first).values(state="closed", open_key=None))
        assert insert_ignore(conn, crises, row, ("open_key",)) is not None


def test_two_workers_racing_over_one_burst_raise_exactly_one_crisis(
    any_store: Store, tmp_path: Path, alerts: AlertReceiver
) -> None:
    config = crisis_config(tmp_path, alerts.url, database_url=any_store.url)
    config = config.model_copy(update={"dispatcher": config.dispatcher.model_copy(update={"batch_size": 15})})
    client = create_app(config, store=any_store).test_client()
    burst(client, ESTAFA, utcnow(), timedelta(minutes=9))
    workers = [Dispatcher(Runtime(config, Store(any_store.url))) for _ in range(2)]
    start = threading.Barrier(2)
    handled: list[int] = []

    def work(dispatcher: Dispatcher) -> None:
        start.wait()
        handled.append(dispatcher.run_once())

    threads = [threading.Thread(target=work, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert min(handled) >= 15  # each worker took half of the burst
    drain(workers[0], any_store)
    (crisis,) = crisis_report(any_store)
    assert crisis["count"] == 30 and crisis["alerted"]
    assert len(alerts.delivered) == 1
    parents = [
        t for t in list_local_tickets(any_store) if t["priority"] == "P1" and "Crisis" in (t["subject"] or "")
    ]
    assert len(parents) == 1
    for worker in workers:
        worker.runtime.store.dispose()


# --- topics ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Esto es una #Estafa y un #ESTAFÁ", ["#estafa"]),
        ("#AppCaída otra vez #appcaida", ["#appcaida"]),
        ("vean https://acme.example/#top y &#39; #1", []),
        ("número #1 en quejas, #Top10", ["#top10"]),
    ],
)
def test_hashtags_are_folded_and_urls_are_not_tags(text: str, expected: list[str]) -> None:
    assert hashtags(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hola, mi pedido no llegó y nadie responde", []),
        ("My order never arrived, please help", []),
        ("@AcmeSupport no me devuelven el REEMBOLSO https://x.co/abc", ["devuelven", "reembolso"]),
        ("Acme me cobró 30 euros de más", ["cobro", "euros"]),
    ],
)
def test_key_terms_leave_out_stopwords_common_complaint_words_and_the_brand(
    text: str, expected: list[str]
) -> None:
    assert key_terms(text, excluded=["acme"]) == expected


def test_a_text_with_hashtags_is_about_its_hashtags_only() -> None:
    assert topics_of("no me devuelven el reembolso #Estafa") == ["#estafa"]


def test_resolving_the_parent_incident_answers_nobody_and_leaves_no_dead_letter(
    client: FlaskClient, store: Store, dispatcher: Dispatcher, alerts: AlertReceiver, runtime: Runtime
) -> None:
    from click.testing import CliRunner

    from connector.cli import main
    from connector.crm.local import resolve_ticket
    from tests.publish_support import write_config

    burst(client, ESTAFA, utcnow() - timedelta(seconds=30), timedelta(minutes=9))
    drain(dispatcher, store)
    (crisis,) = crisis_report(store, runtime.config.crisis)
    resolve_ticket(store, crisis["parent_ticket_id"], "Fraud ring shut down; refunds issued")
    drain(dispatcher, store)
    assert store.list_dead_letters() == [] and store.list_replies() == []
    config_file = write_config(runtime.config, Path(runtime.config.base_dir) / "cli.yaml")
    listed = CliRunner().invoke(main, ["crisis", "list", "--config", str(config_file)])
    assert listed.exit_code == 0 and "#estafa [open] 30 interaction(s)" in listed.output
    assert "alert sent" in listed.output
