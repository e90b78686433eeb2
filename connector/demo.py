"""``ventanilla demo``: the whole loop on the embedded default, over a real socket.

It starts the app and the dispatcher, sends the bundled platform payloads as signed HTTP
requests, shows the tickets, resolves one through the API and shows the reply. Every
expectation is checked; the exit code says whether the loop worked.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import click
import requests

from connector.config import Config, config_from_dict
from connector.crm.local import list_local_tickets
from connector.crm.local_customers import import_customers, read_customer_csv
from connector.dispatcher import Dispatcher
from connector.runtime import Runtime
from connector.store import Store
from webhooks import create_app
from webhooks.signatures import sign_meta, sign_standard_webhook, sign_x

META_SECRET = "demo-meta-app-secret"
X_SECRET = "demo-x-consumer-secret"
GENERIC_SECRET = "whsec_ZGVtby1nZW5lcmljLXNlY3JldC0wMTIzNDU2Nzg5"
API_TOKEN = "demo-api-token"
WAIT_SECONDS = 30


@dataclass(frozen=True)
class Delivery:
    label: str
    path: str
    sample: str
    expect: int
    tamper: bool = False


DELIVERIES = (
    Delivery("Facebook comment (es)", "/webhooks/meta", "facebook_comment.json", 200),
    Delivery("Facebook reply in the same thread (es)", "/webhooks/meta", "facebook_reply.json", 200),
    Delivery("the Page's own reply (recorded, no ticket)", "/webhooks/meta", "facebook_page_reply.json", 200),
    Delivery("Instagram comment (en)", "/webhooks/meta", "instagram_comment.json", 200),
    Delivery("Instagram mention", "/webhooks/meta", "instagram_mention.json", 200),
    Delivery("Messenger message (es)", "/webhooks/meta", "messenger_message.json", 200),
    Delivery("X mention (en)", "/webhooks/x", "x_mention.json", 200),
    Delivery("X direct message (en)", "/webhooks/x", "x_dm.json", 200),
    Delivery("generic review (es)", "/webhooks/generic/reviews", "generic_review.json", 200),
    Delivery("the Facebook comment again (duplicate)", "/webhooks/meta", "facebook_comment.json", 200),
    Delivery("an X mention with a bad signature", "/webhooks/x", "x_mention.json", 401, tamper=True),
)
EXPECTED_THREADS = 7  # fb post, ig comment, ig mention, messenger, x mention, x dm, review


def demo_config(folder: Path) -> Config:
    return config_from_dict(
        {
            "database_url": f"sqlite:///{folder / 'demo.db'}",
            "platforms": {
                "meta": {
                    "app_secret": META_SECRET,
                    "verify_token": "demo-verify-token",
                    "brand_account_ids": ["104500000000001", "17841400000000001"],
                },
                "x": {"consumer_secret": X_SECRET, "brand_user_ids": ["2244994945"]},
                "generic": {"sources": {"reviews": {"secret": GENERIC_SECRET}}},
            },
            "desks": [{"name": "support", "connector": "local", "mapping": "local.yaml"}],
            "api": {"token": API_TOKEN},
            "brand": {"name": "Acme", "private_channel_hint": "our direct messages"},
        },
        source="<demo>",
        base_dir=str(folder),
    )


def _sample(name: str) -> bytes:
    return resources.files("connector").joinpath("samples", name).read_bytes()


def _headers(delivery: Delivery, body: bytes) -> dict[str, str]:
    if delivery.path == "/webhooks/meta":
        headers = sign_meta(body, META_SECRET)
    elif delivery.path == "/webhooks/x":
        headers = sign_x(body, X_SECRET)
    else:
        headers = sign_standard_webhook(body, GENERIC_SECRET, f"msg_{uuid.uuid4().hex}")
    headers["Content-Type"] = "application/json"
    if delivery.tamper:
        headers = {k: (v[:-6] + "AAAAA=" if "signature" in k.lower() else v) for k, v in headers.items()}
    return headers


class Demo:
    """One demo run; ``checks`` collects every expectation and whether it held."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.config = demo_config(folder)
        self.store = Store(self.config.database_url)
        self.store.create_schema()
        self.runtime = Runtime(self.config, self.store)
        self.dispatcher = Dispatcher(self.runtime)
        self.checks: list[tuple[str, bool]] = []
        self.base_url = ""
        self.step_no = 0

    def step(self, title: str) -> None:
        self.step_no += 1
        click.secho(f"\n[{self.step_no}/7] {title}", bold=True)

    def check(self, label: str, ok: bool) -> None:
        self.checks.append((label, ok))
        click.echo(f"  {click.style('✓' if ok else '✗', fg='green' if ok else 'red')} {label}")

    def run(self) -> int:
        import waitress.server

        app = create_app(self.config, store=self.store)
        server = waitress.server.create_server(app, host="127.0.0.1", port=0, threads=4)
        port = server.effective_port  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        self.dispatcher.start()
        try:
            self._scenario()
        finally:
            self.dispatcher.stop()
            server.close()
            self.store.dispose()
        failed = [label for label, ok in self.checks if not ok]
        if failed:
            click.secho(f"\n{len(failed)} check(s) failed: {'; '.join(failed)}", fg="red", bold=True)
            return 1
        click.secho(f"\nAll {len(self.checks)} checks passed: the loop is closed.", fg="green", bold=True)
        return 0

    def _scenario(self) -> None:
        self.step(f"Ventanilla running on {self.base_url} (SQLite + local desk, dry-run replies)")
        self.check(
            "health check answers", requests.get(f"{self.base_url}/healthz", timeout=5).status_code == 200
        )
        self.step("Importing the local desk's customers")
        rows = read_customer_csv(Path(str(resources.files("connector").joinpath("samples", "customers.csv"))))
        result = import_customers(self.store, rows)
        click.echo(f"  {result.created} customers, {result.identities} identities")
        self.step("Sending signed webhooks")
        self._send_all()
        self.step("Waiting for the dispatcher (identify → triage → ticket)")
        self.check("every job processed, none dead", self._wait(lambda c: c["pending_jobs"] == 0))
        self.step("Tickets in the local desk")
        tickets = self._show_tickets()
        self.step("Resolving the Facebook ticket through the API")
        self._resolve(tickets)
        self.step("Replies")
        self._show_replies()

    def _send_all(self) -> None:
        with click.progressbar(
            DELIVERIES, label="  delivering", item_show_func=lambda d: d.label if d else ""
        ) as bar:
            results = []
            for delivery in bar:
                body = _sample(delivery.sample)
                response = requests.post(
                    self.base_url + delivery.path, data=body, headers=_headers(delivery, body), timeout=10
                )
                results.append((delivery, response))
        for delivery, response in results:
            detail = (
                response.json()
                if response.headers.get("content-type", "").startswith("application/json")
                else {}
            )
            summary = ", ".join(f"{k}={v}" for k, v in detail.items() if k != "status")
            click.echo(f"  {response.status_code} {delivery.label}  {summary}")
            self.check(f"{delivery.label} → {delivery.expect}", response.status_code == delivery.expect)
        duplicate = results[-2][1].json()
        self.check(
            "the duplicate made nothing new", duplicate.get("new") == 0 and duplicate.get("duplicates") == 1
        )

    def _wait(self, done: Callable[[dict[str, int]], bool]) -> bool:
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            counts = self.store.counts()
            if done(counts):
                return counts["dead_letters"] == 0
            time.sleep(0.1)
        return False

    def _show_tickets(self) -> list[dict[str, Any]]:
        tickets = list_local_tickets(self.store)
        for ticket in tickets:
            click.echo(
                f"  {ticket['number']} {click.style(ticket['priority'] or '--', bold=True)} "
                f"{ticket['interaction_count']} msg  {ticket['thread_key']}\n"
                f"      {ticket['subject']}\n      why: {ticket['explanation']}"
            )
        self.check(f"one ticket per thread ({EXPECTED_THREADS})", len(tickets) == EXPECTED_THREADS)
        facebook = [t for t in tickets if t["thread_key"].startswith("facebook:")]
        self.check(
            "the Facebook reply was appended as a follow-up",
            len(facebook) == 1 and facebook[0]["interaction_count"] == 2,
        )
        return tickets

    def _resolve(self, tickets: list[dict[str, Any]]) -> None:
        facebook = next((t for t in tickets if t["thread_key"].startswith("facebook:")), None)
        if facebook is None:
            self.check("a Facebook ticket to resolve", False)
            return
        url = f"{self.base_url}/api/tickets/{facebook['id']}/resolve"
        auth = {"Authorization": f"Bearer {API_TOKEN}"}
        note = {"note": "Duplicate charge refunded by billing (ref R-5521)."}
        first = requests.post(url, json=note, headers=auth, timeout=10)
        click.echo(f"  {first.status_code} resolve {facebook['number']}: {first.json()}")
        again = requests.post(url, json=note, headers=auth, timeout=10)
        click.echo(f"  {again.status_code} resolve it again: {again.json().get('message')}")
        self.check(
            "resolved once; a second resolve is refused",
            first.status_code == 200 and again.status_code == 409,
        )
        self.check("the reply was produced", self._wait(lambda _: len(self.store.list_replies()) >= 1))

    def _show_replies(self) -> None:
        replies = self.store.list_replies()
        for reply in replies:
            click.echo(f"  would post on {reply.platform} ({reply.channel}) in reply to {reply.in_reply_to}:")
            click.secho(f"    “{reply.text}”", fg="cyan")
        self.check(
            "exactly one reply, recorded as dry-run", len(replies) == 1 and replies[0].state == "posted"
        )
        click.echo(
            "\n  tickets as JSON: " + json.dumps([t["number"] for t in list_local_tickets(self.store)])
        )


def run_demo(keep: str | None = None) -> int:
    """Run the demo in a temporary folder (or ``keep``); return the exit code."""
    folder = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="ventanilla-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        return Demo(folder).run()
    finally:
        if keep is None:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            click.echo(f"demo database kept in {folder / 'demo.db'}")
