"""How many CRM API calls does a burst of social interactions cost? (run by hand)

A burst of interactions from a few hundred authors (a tenth of the threads with a
follow-up) is sent as signed webhooks to the app, then the pipeline runs against the
desk's emulator (the same HTTPS emulator the tests use). The emulator counts API calls
the way the CRM counts them. For comparison it prints what a per-event flow (search the
contact, then create the case or add the comment, for every event) would spend on the
same burst. The last line is exactly ``calls_per_interaction=<number>``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connector.config import config_from_dict
from connector.dispatcher import Dispatcher
from connector.runtime import Runtime
from connector.store import Store
from tests.emulators.salesforce import SalesforceEmulator
from tests.emulators.tls import make_tls
from webhooks import create_app
from webhooks.signatures import sign_meta, sign_x

META_SECRET = "bench-meta-secret"
X_SECRET = "bench-x-secret"
PAGE_ID = "104500000000001"
X_BRAND = "2244994945"
CLIENT_ID, CLIENT_SECRET = "bench-client", "bench-client-secret"
PER_EVENT_CALLS = 2  # search the contact, then create the case or add the comment
TARGET = 0.02


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
    parser.add_argument("--system", choices=["salesforce"], required=True, help="which desk to measure")
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


def seed_contacts(emulator: SalesforceEmulator, args: argparse.Namespace) -> None:
    for index in range(round(args.authors * args.known_share)):
        author = Author(index, "x" if index % 2 == 0 else "facebook")
        account = emulator.add_record(
            "Account", {"Name": f"Account {index}", "AnnualRevenue": 1000.0 * index}
        )
        fields = {"LastName": f"Customer {index}", "AccountId": account}
        fields["Twitter_Handle__c" if author.platform == "x" else "Facebook_Id__c"] = (
            author.handle if author.platform == "x" else author.user_id
        )
        emulator.add_record("Contact", fields)


def config(folder: Path, emulator: SalesforceEmulator, batch_size: int) -> dict[str, Any]:
    return {
        "database_url": f"sqlite:///{folder / 'bench.db'}",
        "platforms": {
            "meta": {"app_secret": META_SECRET, "brand_account_ids": [PAGE_ID]},
            "x": {"consumer_secret": X_SECRET, "brand_user_ids": [X_BRAND]},
        },
        "desks": [
            {"name": "cases", "connector": "salesforce", "connection": "org", "mapping": "salesforce.yaml"}
        ],
        "connections": {
            "org": {
                "instance_url": emulator.instance_url,
                "token_url": emulator.token_url,
                "auth": "client_credentials",
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "ca_bundle": emulator.ca_path,
                "organization_id": emulator.org_id,
            }
        },
        "dispatcher": {"batch_size": batch_size, "lease_seconds": 600},
    }


def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="ventanilla-crm-calls-") as tmp:
        folder = Path(tmp)
        emulator = SalesforceEmulator(make_tls(folder)).start()
        try:
            emulator.register_client(CLIENT_ID, CLIENT_SECRET)
            seed_contacts(emulator, args)
            cfg = config_from_dict(config(folder, emulator, args.batch_size), base_dir=str(folder))
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
            emulator.reset_log()
            started = time.perf_counter()
            Dispatcher(Runtime(cfg, store)).run_until_idle(timeout=600)
            elapsed = time.perf_counter() - started
            return report(args, emulator, store, len(deliveries), threads, elapsed)
        finally:
            emulator.stop()


def report(
    args: argparse.Namespace,
    emulator: SalesforceEmulator,
    store: Store,
    sent: int,
    threads: int,
    elapsed: float,
) -> int:
    calls = emulator.api_calls()
    cases = len(emulator.records.get("Case", {}))
    comments = len(emulator.records.get("CaseComment", {}))
    dead = len(store.list_dead_letters())
    kinds = Counter(
        f"{e.method} {e.path.split('/v')[-1].split('/', 1)[-1].split('?')[0][:40]}"
        for e in emulator.request_log
        if "/services/data/v" in e.path
    )
    print(
        f"burst: {sent} interactions, {args.authors} authors, {threads} threads, "
        f"{sent - threads} follow-ups, dispatcher batch size {args.batch_size}"
    )
    print(
        f"pipeline: {elapsed:.1f} s; Cases {cases} (expected {threads}), CaseComments {comments} "
        f"(expected {sent - threads}), dead letters {dead}"
    )
    for kind, count in sorted(kinds.items()):
        print(f"  {count:5d}  {kind}")
    per_event = PER_EVENT_CALLS * sent
    print(
        f"per-event flow (search contact + create case/comment): {per_event} calls = "
        f"{per_event / sent:.2f} per interaction"
    )
    ratio = calls / sent
    print(
        f"ventanilla: {calls} calls = {ratio:.4f} per interaction (target <= {TARGET}): "
        f"{'met' if ratio <= TARGET else 'NOT met'}; {per_event / max(calls, 1):.0f}x fewer than per-event"
    )
    print(f"calls_per_interaction={ratio:.4f}")
    return 0 if cases == threads and comments == sent - threads and dead == 0 else 1


def main(argv: Sequence[str] | None = None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
