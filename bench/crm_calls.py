"""How many CRM API calls does a burst of social interactions cost? (run by hand)

A burst of interactions from a few hundred authors (a tenth of the threads with a
follow-up) is sent as signed webhooks to the app, then the pipeline runs against the
desk's emulator (the same HTTPS emulator the tests use). The emulator counts API calls
the way the CRM counts them. For comparison it prints what a per-event flow (search the
contact, then create the case or add the comment, for every event) would spend on the
same burst. For HubSpot it also prints how long the burst takes under the connector's
default rate limit (190 requests per 10 s, 4 searches per second), measured against an
emulator enforcing HubSpot's own limits, and what the per-event flow would need. The last
line is exactly ``calls_per_interaction=<number>``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connector.config import config_from_dict
from connector.dispatcher import Dispatcher
from connector.runtime import Runtime
from connector.store import Store
from tests.emulators.hubspot import HubSpotEmulator
from tests.emulators.salesforce import SalesforceEmulator
from tests.emulators.servicenow_soap import ServiceNowSoapEmulator
from tests.emulators.tls import make_tls
from webhooks import create_app
from webhooks.signatures import sign_meta, sign_x

META_SECRET = "bench-meta-secret"
X_SECRET = "bench-x-secret"
PAGE_ID = "104500000000001"
X_BRAND = "2244994945"
CLIENT_ID, CLIENT_SECRET = "bench-client", "bench-client-secret"
HUBSPOT_TOKEN = "pat-bench-token"
SOAP_USER, SOAP_PASSWORD = "bench.user", "bench-password"
PER_EVENT_CALLS = 2  # search the contact, then create the case or add the comment
# SOAP desks have no batch create: a new thread costs its lookup and its insert.
TARGETS = {"salesforce": 0.02, "hubspot": 0.03, "soap": 1.2}
# HubSpot's default limits for a Professional private app (protocols.md C.7).
HUBSPOT_BURST, HUBSPOT_WINDOW_S, HUBSPOT_SEARCH_PER_S = 190, 10.0, 4


@dataclass(frozen=True)
class Author:
    index: int
    platform: str  # "x" or "facebook"

    @property
    def user_id(self) -> str:
        return f"{7_000_000_000 + self.index}"

    @property
    def handle(self) -> str:
        return f"customer_{self.index}"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--system", choices=["salesforce", "hubspot", "soap"], required=True, help="which desk to measure"
    )
    parser.add_argument("--interactions", type=int, default=1000, help="burst size (default %(default)s)")
    parser.add_argument("--authors", type=int, default=300, help="distinct authors (default %(default)s)")
    parser.add_argument(
        "--followup-share",
        type=float,
        default=0.1,
        help="share of threads with a follow-up (default %(default)s)",
    )
    parser.add_argument(
        "--known-share",
        type=float,
        default=0.5,
        help="share of authors that are Contacts in the CRM (default %(default)s)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=200,
        help="dispatcher batch size: jobs claimed per batch (default %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=7, help="random seed (default %(default)s)")
    args = parser.parse_args(argv)
    if args.interactions < 1 or args.authors < 1 or not 0 <= args.followup_share <= 1:
        parser.error("--interactions and --authors must be positive, --followup-share within 0..1")
    return args


def tweet(author: Author, tweet_id: str, reply_to: str | None, text: str) -> dict[str, Any]:
    return {
        "for_user_id": X_BRAND,
        "tweet_create_events": [
            {
                "created_at": "Mon Nov 23 10:00:00 +0000 2026",
                "id_str": tweet_id,
                "text": f"@AcmeSupport {text}",
                "in_reply_to_status_id_str": reply_to,
                "user": {
                    "id_str": author.user_id,
                    "screen_name": author.handle,
                    "followers_count": 100 + author.index,
                },
                "entities": {"user_mentions": [{"screen_name": "AcmeSupport", "id_str": X_BRAND}]},
                "lang": "en",
                "timestamp_ms": "1763892000000",
            }
        ],
    }


def comment(author: Author, post: str, comment_id: str, parent: str, text: str) -> dict[str, Any]:
    return {
        "object": "page",
        "entry": [
            {
                "id": PAGE_ID,
                "time": 1763892000,
                "changes": [
                    {
                        "field": "feed",
                        "value": {
                            "from": {"id": author.user_id, "name": f"Customer {author.index}"},
                            "message": text,
                            "post_id": post,
                            "comment_id": comment_id,
                            "parent_id": parent,
                            "created_time": 1763892000,
                            "item": "comment",
                            "verb": "add",
                        },
                    }
                ],
            }
        ],
    }


def build_burst(args: argparse.Namespace) -> tuple[list[tuple[str, bytes]], int]:
    """Signed deliveries for the burst, and the number of threads in it."""
    rng = random.Random(args.seed)
    authors = [Author(i, "x" if i % 2 == 0 else "facebook") for i in range(args.authors)]
    threads = max(1, round(args.interactions / (1 + args.followup_share)))
    followups = args.interactions - threads
    texts = [
        "my order never arrived",
        "the app crashes when I pay",
        "I was charged twice",
        "where is my refund",
    ]
    deliveries: list[tuple[str, bytes]] = []
    roots: list[tuple[Author, str, str]] = []
    for number in range(threads):
        author = authors[number % len(authors)]
        text = rng.choice(texts)
        if author.platform == "x":
            tweet_id = f"19920000000{number:08d}"
            deliveries.append(("x", json.dumps(tweet(author, tweet_id, None, text)).encode()))
            roots.append((author, tweet_id, tweet_id))
        else:
            post, comment_id = f"{PAGE_ID}_{number:08d}", f"{number:08d}_1"
            deliveries.append(("meta", json.dumps(comment(author, post, comment_id, post, text)).encode()))
            roots.append((author, post, comment_id))
    for number, (author, root, parent) in enumerate(rng.sample(roots, min(followups, len(roots)))):
        if author.platform == "x":
            body = tweet(author, f"19930000000{number:08d}", parent, "still waiting, nobody answers")
            deliveries.append(("x", json.dumps(body).encode()))
        else:
            body = comment(author, root, f"{number:08d}_2", parent, "sigo esperando, nadie contesta")
            deliveries.append(("meta", json.dumps(body).encode()))
    return deliveries, threads


@dataclass
class Desk:
    """One system's emulator, how to reach it, and what it holds after the burst."""

    name: str
    emulator: SalesforceEmulator | HubSpotEmulator | ServiceNowSoapEmulator
    desk: dict[str, Any]
    connection: dict[str, Any]
    tickets: Callable[[], int]
    followups: Callable[[], int]
    words: tuple[str, str]  # what tickets and follow-ups are called there

    def calls(self) -> int:
        if isinstance(self.emulator, ServiceNowSoapEmulator):
            return len(self.emulator.soap_log())
        return self.emulator.api_calls()

    def request_kinds(self) -> Counter[str]:
        if isinstance(self.emulator, ServiceNowSoapEmulator):
            return Counter(f"{e.table}.{e.operation}" for e in self.emulator.soap_log())
        if isinstance(self.emulator, HubSpotEmulator):
            return Counter(
                f"{e.method} {e.path.split('?')[0]}" for e in self.emulator.request_log if e.counted
            )
        return Counter(
            f"{e.method} {e.path.split('/v')[-1].split('/', 1)[-1].split('?')[0][:40]}"
            for e in self.emulator.request_log
            if "/services/data/v" in e.path
        )


def known_authors(args: argparse.Namespace) -> list[Author]:
    return [
        Author(i, "x" if i % 2 == 0 else "facebook") for i in range(round(args.authors * args.known_share))
    ]


def salesforce_desk(folder: Path, args: argparse.Namespace) -> Desk:
    emulator = SalesforceEmulator(make_tls(folder)).start()
    emulator.register_client(CLIENT_ID, CLIENT_SECRET)
    for author in known_authors(args):
        account = emulator.add_record(
            "Account", {"Name": f"Account {author.index}", "AnnualRevenue": 1000.0 * author.index}
        )
        fields = {"LastName": f"Customer {author.index}", "AccountId": account}
        fields["Twitter_Handle__c" if author.platform == "x" else "Facebook_Id__c"] = (
            author.handle if author.platform == "x" else author.user_id
        )
        emulator.add_record("Contact", fields)
    connection = {
        "instance_url": emulator.instance_url,
        "token_url": emulator.token_url,
        "auth": "client_credentials",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "ca_bundle": emulator.ca_path,
        "organization_id": emulator.org_id,
    }
    return Desk(
        "salesforce",
        emulator,
        {"name": "cases", "connector": "salesforce", "connection": "org", "mapping": "salesforce.yaml"},
        connection,
        lambda: len(emulator.records.get("Case", {})),
        lambda: len(emulator.records.get("CaseComment", {})),
        ("Cases", "CaseComments"),
    )


def hubspot_desk(folder: Path, args: argparse.Namespace) -> Desk:
    """HubSpot's default limits on both sides: the connector's buckets and the emulator's."""
    emulator = HubSpotEmulator(
        make_tls(folder), burst_limit=HUBSPOT_BURST, burst_window_s=HUBSPOT_WINDOW_S, search_per_second=5
    ).start()
    emulator.add_token(HUBSPOT_TOKEN)
    for author in known_authors(args):
        company = emulator.add_record(
            "companies", {"name": f"Account {author.index}", "annualrevenue": str(1000 * author.index)}
        )
        properties = {"firstname": f"Customer {author.index}", "associatedcompanyid": company}
        if author.platform == "x":
            properties["twitterhandle"] = author.handle
        else:
            properties["facebook_id"] = author.user_id
        emulator.add_record("contacts", properties)
    connection = {
        "base_url": emulator.base_url,
        "access_token": HUBSPOT_TOKEN,
        "ca_bundle": emulator.ca_path,
        "portal_id": emulator.portal_id,
    }
    return Desk(
        "hubspot",
        emulator,
        {"name": "tickets", "connector": "hubspot", "connection": "portal", "mapping": "hubspot.yaml"},
        connection,
        lambda: len(emulator.records.get("tickets", {})),
        lambda: len(emulator.records.get("notes", {})),
        ("tickets", "notes"),
    )


def soap_desk(folder: Path, args: argparse.Namespace) -> Desk:
    """ServiceNow incidents over SOAP: no batch calls exist, so the cost is per thread."""
    emulator = ServiceNowSoapEmulator(make_tls(folder)).start()
    emulator.add_user(SOAP_USER, SOAP_PASSWORD)
    for author in known_authors(args):
        fields = {
            "name": f"Customer {author.index}",
            "active": "true",
            "u_lifetime_value": str(1000 * author.index),
        }
        fields["u_x_handle" if author.platform == "x" else "u_facebook_id"] = (
            author.handle if author.platform == "x" else author.user_id
        )
        emulator.add_record("sys_user", fields)
    connection = {
        "endpoint": emulator.base_url + "/",
        "username": SOAP_USER,
        "password": SOAP_PASSWORD,
        "ca_bundle": emulator.ca_path,
    }

    def journal_entries() -> int:
        return sum(
            len(emulator.journal_entries("incident", r["sys_id"])) for r in emulator.records("incident")
        )

    return Desk(
        "soap",
        emulator,
        {"name": "incidents", "connector": "soap", "connection": "servicenow", "mapping": "servicenow.yaml"},
        connection,
        lambda: len(emulator.records("incident")),
        journal_entries,
        ("incidents", "work notes"),
    )


DESKS = {"salesforce": salesforce_desk, "hubspot": hubspot_desk, "soap": soap_desk}


def config(folder: Path, desk: Desk, batch_size: int) -> dict[str, Any]:
    return {
        "database_url": f"sqlite:///{folder / 'bench.db'}",
        "platforms": {
            "meta": {"app_secret": META_SECRET, "brand_account_ids": [PAGE_ID]},
            "x": {"consumer_secret": X_SECRET, "brand_user_ids": [X_BRAND]},
        },
        "desks": [desk.desk],
        "connections": {desk.desk["connection"]: desk.connection},
        "dispatcher": {"batch_size": batch_size, "lease_seconds": 600},
    }


def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="ventanilla-crm-calls-") as tmp:
        folder = Path(tmp)
        desk = DESKS[args.system](folder, args)
        try:
            cfg = config_from_dict(config(folder, desk, args.batch_size), base_dir=str(folder))
            store = Store(cfg.database_url)
            store.create_schema()
            client = create_app(cfg, store=store).test_client()
            deliveries, threads = build_burst(args)
            for source, body in deliveries:
                signed = sign_x(body, X_SECRET) if source == "x" else sign_meta(body, META_SECRET)
                response = client.post(
                    f"/webhooks/{source}", data=body, headers=signed, content_type="application/json"
                )
                if response.status_code != 200:
                    print(f"delivery refused: {response.status_code} {response.get_data(as_text=True)}")
                    return 1
            desk.emulator.reset_log()
            started = time.perf_counter()
            Dispatcher(Runtime(cfg, store)).run_until_idle(timeout=600)
            elapsed = time.perf_counter() - started
            return report(args, desk, store, len(deliveries), threads, elapsed)
        finally:
            desk.emulator.stop()


def report(
    args: argparse.Namespace, desk: Desk, store: Store, sent: int, threads: int, elapsed: float
) -> int:
    calls = desk.calls()
    tickets, followups = desk.tickets(), desk.followups()
    dead = len(store.list_dead_letters())
    kinds = desk.request_kinds()
    print(
        f"burst: {sent} interactions, {args.authors} authors, {threads} threads, "
        f"{sent - threads} follow-ups, dispatcher batch size {args.batch_size}"
    )
    print(
        f"pipeline: {elapsed:.1f} s; {desk.words[0]} {tickets} (expected {threads}), {desk.words[1]} "
        f"{followups} (expected {sent - threads}), dead letters {dead}"
    )
    for kind, count in sorted(kinds.items()):
        print(f"  {count:5d}  {kind}")
    per_event = PER_EVENT_CALLS * sent
    print(
        f"per-event flow (search contact + create case/comment): {per_event} calls = "
        f"{per_event / sent:.2f} per interaction"
    )
    if desk.name == "hubspot":
        print_rate_limit_time(kinds, elapsed, sent)
    ratio = calls / sent
    target = TARGETS[desk.name]
    print(
        f"ventanilla: {calls} calls = {ratio:.4f} per interaction (target <= {target}): "
        f"{'met' if ratio <= target else 'NOT met'}; {per_event / max(calls, 1):.0f}x fewer than per-event"
    )
    print(f"calls_per_interaction={ratio:.4f}")
    return 0 if tickets == threads and followups == sent - threads and dead == 0 else 1


def least_time(burst: int, searches: int) -> float:
    """The shortest time HubSpot's default limits allow for these calls (a full window is free)."""
    burst_s = max(0, -(-burst // HUBSPOT_BURST) - 1) * HUBSPOT_WINDOW_S
    search_s = max(0, -(-searches // HUBSPOT_SEARCH_PER_S) - 1) * 1.0
    return max(burst_s, search_s)


def print_rate_limit_time(kinds: Counter[str], elapsed: float, sent: int) -> None:
    searches = sum(count for kind, count in kinds.items() if kind.endswith("/search"))
    burst = sum(kinds.values())
    print(
        f"under the default rate limit ({HUBSPOT_BURST} per {HUBSPOT_WINDOW_S:.0f} s, "
        f"{HUBSPOT_SEARCH_PER_S} searches/s): the burst took {elapsed:.1f} s "
        f"(limits alone allow {least_time(burst, searches):.1f} s for {burst} calls, {searches} searches); "
        f"the per-event flow would need at least {least_time(sent, sent):.0f} s"
    )


def main(argv: Sequence[str] | None = None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
