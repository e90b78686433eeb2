"""The reconciliation poller: what the webhooks missed is read back from the emulators and ingested once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from connector import reconcile_meta, reconcile_x
from connector.config import Config, config_from_dict
from connector.crm.local import list_local_tickets
from connector.dispatcher import Dispatcher
from connector.model import thread_key_for
from connector.publish.graph_api import GraphClient, reset_pauses
from connector.publish.x_api import XClient, reset_limits
from connector.reconcile import OVERLAP, STATE_SCOPE, ReconcileReport, reconcile
from connector.runtime import Runtime
from connector.schema import raw_events
from connector.store import Store
from tests.conftest import IG_ACCOUNT_ID, META_APP_SECRET, META_PAGE_ID, X_BRAND_IDS, base_config
from tests.emulators.meta_graph import MetaGraphEmulator
from tests.emulators.x_api import XApiEmulator
from tests.signing import compact, post_meta
from webhooks import create_app
from webhooks.meta_parse import parse_meta
from webhooks.x_parse import parse_x

X_BRAND = X_BRAND_IDS[0]
X_TOKEN = "x-user-token"
CUSTOMER = "3450429531722233"
FB_KEY, IG_KEY, X_KEY = f"facebook:{META_PAGE_ID}", f"instagram:{IG_ACCOUNT_ID}", f"x:{X_BRAND}"


def ignore(_message: str) -> None:
    """A progress callback that draws nothing."""


def ago(**delta: float) -> datetime:
    """A whole-second time in the past (Graph and the webhooks carry whole seconds)."""
    return (datetime.now(UTC) - timedelta(**delta)).replace(microsecond=0)


@pytest.fixture(autouse=True)
def _forget_throttles() -> Iterator[None]:
    yield
    reset_pauses()
    reset_limits()


@pytest.fixture
def graph() -> Iterator[MetaGraphEmulator]:
    with MetaGraphEmulator(page_id=META_PAGE_ID, ig_user_id=IG_ACCOUNT_ID) as emulator:
        yield emulator


@pytest.fixture
def xapi() -> Iterator[XApiEmulator]:
    with XApiEmulator(brand_user_id=X_BRAND) as emulator:
        emulator.add_user_token(X_TOKEN)
        yield emulator


def make_config(
    tmp_path: Path,
    graph: MetaGraphEmulator | None,
    xapi: XApiEmulator | None,
    *,
    tokens: bool = True,
    **reconcile_settings: Any,
) -> Config:
    """Meta and X pointed at the emulators; without an emulator the platform has no token."""
    meta: dict[str, Any] = {
        "app_secret": META_APP_SECRET,
        "brand_account_ids": [META_PAGE_ID, IG_ACCOUNT_ID],
        "page_id": META_PAGE_ID,
        "instagram_account_id": IG_ACCOUNT_ID,
        "max_retries": 1,
    }
    x: dict[str, Any] = {"brand_user_ids": X_BRAND_IDS, "max_retries": 1}
    if graph is not None:
        meta["graph_base_url"] = graph.base_url
        if tokens:
            meta["page_access_token"] = graph.page_token
    if xapi is not None:
        x["api_base_url"] = xapi.base_url
        if tokens:
            x["access_token"] = X_TOKEN
    data = base_config(tmp_path, platforms={"meta": meta, "x": x}, reconcile=reconcile_settings)
    return config_from_dict(data, base_dir=str(tmp_path))


@pytest.fixture
def runtime(tmp_path: Path, graph: MetaGraphEmulator, xapi: XApiEmulator) -> Iterator[Runtime]:
    config = make_config(tmp_path, graph, xapi)
    store = Store(config.database_url)
    store.create_schema()
    yield Runtime(config, store)
    store.dispose()


def tickets(runtime: Runtime) -> list[dict[str, Any]]:
    Dispatcher(runtime).run_until_idle()
    return list_local_tickets(runtime.store)


def seed_post(graph: MetaGraphEmulator, number: str = "407298303721936", **created: float) -> str:
    post_id = f"{META_PAGE_ID}_{number}"
    graph.add_post(post_id, ago(**(created or {"hours": 2})))
    return post_id


def webhook_comment(
    post_id: str, comment_id: str, text: str, created: datetime, parent: str | None = None
) -> Any:
    """The ``feed`` delivery Meta would have sent for a comment the emulator holds."""
    number = post_id.split("_")[-1]
    value = {
        "from": {"id": CUSTOMER, "name": "Susie Example"},
        "post": {"id": post_id, "permalink_url": f"https://www.facebook.com/{META_PAGE_ID}/posts/{number}"},
        "message": text,
        "post_id": post_id,
        "comment_id": comment_id,
        "created_time": int(created.timestamp()),
        "item": "comment",
        "parent_id": parent or post_id,
        "verb": "add",
    }
    entry = {
        "id": META_PAGE_ID,
        "time": int(created.timestamp()),
        "changes": [{"field": "feed", "value": value}],
    }
    return {"object": "page", "entry": [entry]}


# --- Facebook -------------------------------------------------------------------------------


def test_a_comment_whose_webhook_never_came_becomes_a_ticket(
    graph: MetaGraphEmulator, runtime: Runtime
) -> None:
    post_id = seed_post(graph)
    graph.add_comment(
        post_id, "407298303721936_1", CUSTOMER, "Susie Example", "Me cobraron dos veces", ago(hours=1)
    )

    report = reconcile(runtime)

    source = report.per_source[FB_KEY]
    assert (source.scanned, source.recovered, source.already_known, source.errors) == (1, 1, 0, [])
    assert source.recovered_ids == ["407298303721936_1"]
    assert report.total_recovered == 1 and report.ok
    (ticket,) = tickets(runtime)
    assert ticket["thread_key"] == thread_key_for("facebook", META_PAGE_ID, post_id)
    stored = runtime.store.interaction_by_external("facebook", "407298303721936_1")
    assert stored is not None
    assert (stored.parent_external_id, stored.author.display_name, stored.kind) == (
        post_id,
        "Susie Example",
        "comment",
    )
    assert stored.permalink == f"https://www.facebook.com/{META_PAGE_ID}/posts/407298303721936"


def test_the_comments_call_asks_for_the_stream_since_the_window(
    graph: MetaGraphEmulator, runtime: Runtime
) -> None:
    post_id = seed_post(graph)
    graph.add_comment(post_id, "407298303721936_1", CUSTOMER, "Susie", "hola", ago(hours=1))
    reconcile(runtime, since=timedelta(hours=3))
    (call,) = graph.requests_to(f"{post_id}/comments", "GET")
    assert call.query["filter"] == "stream"
    assert call.query["order"] == "reverse_chronological"
    fields = "id,message,from,created_time,parent,permalink_url,like_count,comment_count"
    assert call.query["fields"] == fields
    assert abs(int(call.query["since"]) - int(ago(hours=3).timestamp())) <= 5


def test_a_comment_first_delivered_by_webhook_is_not_duplicated(
    tmp_path: Path, graph: MetaGraphEmulator, runtime: Runtime
) -> None:
    post_id = seed_post(graph)
    first, second = ago(hours=1), ago(minutes=30)
    graph.add_comment(post_id, "407298303721936_1", CUSTOMER, "Susie Example", "No funciona la app", first)
    graph.add_comment(post_id, "407298303721936_2", CUSTOMER, "Susie Example", "Sigo esperando", second)
    client: FlaskClient = create_app(runtime.config, store=runtime.store).test_client()
    delivered = webhook_comment(post_id, "407298303721936_1", "No funciona la app", first)
    assert post_meta(client, compact(delivered)).status_code == 200

    source = reconcile(runtime).per_source[FB_KEY]

    assert (source.scanned, source.recovered, source.already_known) == (2, 1, 1)
    (ticket,) = tickets(runtime)  # the webhook's comment and the recovered one share the thread
    assert ticket["interaction_count"] == 2
    webhook_item = runtime.store.interaction_by_external("facebook", "407298303721936_1")
    recovered = runtime.store.interaction_by_external("facebook", "407298303721936_2")
    assert webhook_item is not None and recovered is not None
    assert recovered.thread_key == webhook_item.thread_key == ticket["thread_key"]


def test_a_recovered_comment_equals_what_its_webhook_would_parse_to(
    tmp_path: Path, graph: MetaGraphEmulator
) -> None:
    post_id = seed_post(graph)
    created = ago(hours=1)
    graph.add_comment(post_id, "407298303721936_1", CUSTOMER, "Susie Example", "Donde lo compro?", created)
    graph.add_comment(
        post_id,
        "407298303721936_2",
        CUSTOMER,
        "Susie Example",
        "Hola?",
        created,
        parent_id="407298303721936_1",
    )
    settings = make_config(tmp_path, graph, None).platforms.meta
    into = reconcile_meta.Fetched()
    brand = frozenset(settings.brand_account_ids)
    reconcile_meta.fetch_facebook(GraphClient(settings), META_PAGE_ID, brand, 25, ago(hours=3), into, ignore)
    fetched = {item.external_id: item for item, _ in into.found}
    for comment_id, parent in (("407298303721936_1", None), ("407298303721936_2", "407298303721936_1")):
        text = "Donde lo compro?" if parent is None else "Hola?"
        (expected,) = parse_meta(
            webhook_comment(post_id, comment_id, text, created, parent), brand
        ).interactions
        assert fetched[comment_id] == expected  # raw aside, every field is the webhook's


def test_a_reply_to_a_comment_joins_the_same_ticket(graph: MetaGraphEmulator, runtime: Runtime) -> None:
    post_id = seed_post(graph)
    graph.add_comment(post_id, "407298303721936_1", CUSTOMER, "Susie", "Me llegó roto", ago(hours=1))
    graph.add_comment(
        post_id,
        "407298303721936_2",
        "555",
        "Otro",
        "A mí también",
        ago(minutes=20),
        parent_id="407298303721936_1",
    )
    assert reconcile(runtime).per_source[FB_KEY].recovered == 2
    (ticket,) = tickets(runtime)
    assert ticket["interaction_count"] == 2
    reply = runtime.store.interaction_by_external("facebook", "407298303721936_2")
    assert reply is not None and reply.parent_external_id == "407298303721936_1"


def test_the_brands_own_comments_are_kept_but_never_make_tickets(
    graph: MetaGraphEmulator, runtime: Runtime
) -> None:
    post_id = seed_post(graph)
    graph.add_comment(
        post_id, "407298303721936_9", META_PAGE_ID, "Acme", "Te escribimos por privado", ago(hours=1)
    )
    graph.add_ig_media("17918195224117851", ago(hours=5))
    graph.add_ig_comment(
        "17918195224117851", "17865799348089039", IG_ACCOUNT_ID, "acme", "Gracias!", ago(hours=1)
    )

    report = reconcile(runtime)

    for key in (FB_KEY, IG_KEY):
        assert (report.per_source[key].recovered, report.per_source[key].own) == (0, 1)
    assert tickets(runtime) == []
    own = runtime.store.interaction_by_external("facebook", "407298303721936_9")
    assert own is not None and own.from_brand
    again = reconcile(runtime, since=timedelta(hours=3)).per_source[FB_KEY]
    assert (again.already_known, again.own) == (1, 0)  # stored once, never twice


def test_the_watermark_moves_and_the_next_run_is_bounded_by_it(
    graph: MetaGraphEmulator, runtime: Runtime
) -> None:
    old_post = seed_post(graph, "1", hours=2)
    graph.add_comment(old_post, "1_1", CUSTOMER, "Susie", "Hola", ago(hours=1))
    first = reconcile(runtime)
    assert first.per_source[FB_KEY].recovered == 1
    stored = runtime.store.get_state(STATE_SCOPE, FB_KEY)
    assert isinstance(stored, str)
    watermark = datetime.fromisoformat(stored)
    assert abs(watermark - datetime.now(UTC)) < timedelta(minutes=1)
    graph.reset_log()

    second = reconcile(runtime)

    source = second.per_source[FB_KEY]
    assert (source.recovered, source.containers) == (0, 1)
    assert source.since == watermark - OVERLAP
    (call,) = graph.requests_to("/comments")  # bounded by the watermark, not the lookback
    assert int(call.query["since"]) == int((watermark - OVERLAP).timestamp())
    assert len(graph.requests_to(f"{META_PAGE_ID}/posts")) == 1


def test_a_new_comment_on_an_old_post_is_found_without_trusting_updated_time(
    graph: MetaGraphEmulator, runtime: Runtime
) -> None:
    old_post = seed_post(graph, "1", days=30)
    reconcile(runtime)
    graph.add_comment(old_post, "1_7", CUSTOMER, "Susie", "Sigue sin funcionar", ago(seconds=5))
    graph.reset_log()

    source = reconcile(runtime).per_source[FB_KEY]

    assert (source.recovered, source.containers) == (1, 1)
    (call,) = graph.requests_to(f"{old_post}/comments")
    assert int(call.query["since"]) >= int((ago(minutes=2) - OVERLAP).timestamp())


def test_posts_and_comments_are_read_across_pages(
    graph: MetaGraphEmulator, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reconcile_meta, "PAGE_SIZE", 5)
    posts = [seed_post(graph, str(n), hours=n) for n in range(1, 8)]
    for n in range(12):
        graph.add_comment(posts[0], f"1_{n}", f"user{n}", "Someone", f"comment {n}", ago(minutes=50 - n))

    source = reconcile(runtime).per_source[FB_KEY]

    assert (source.scanned, source.recovered, source.containers) == (12, 12, 7)
    assert len(graph.requests_to(f"{META_PAGE_ID}/posts")) == 2
    assert len(graph.requests_to(f"{posts[0]}/comments")) == 3
    assert {c.query.get("after") is None for c in graph.requests_to(f"{posts[0]}/comments")} == {True, False}


def test_max_posts_caps_the_posts_scanned(tmp_path: Path, graph: MetaGraphEmulator) -> None:
    for n in range(1, 6):
        seed_post(graph, str(n), hours=n)
    config = make_config(tmp_path, graph, None, max_posts=2)
    store = Store(config.database_url)
    store.create_schema()
    seen: list[str] = []
    source = reconcile(Runtime(config, store), progress=seen.append).per_source[FB_KEY]
    assert source.containers == 2
    assert [line.split()[-1] for line in seen if line.startswith("facebook")] == [
        f"{META_PAGE_ID}_1",
        f"{META_PAGE_ID}_2",
    ]
    store.dispose()


def test_a_failure_mid_source_keeps_what_was_read_and_the_watermark(
    graph: MetaGraphEmulator, runtime: Runtime
) -> None:
    newer, older = seed_post(graph, "1", hours=1), seed_post(graph, "2", hours=2)
    graph.add_comment(newer, "1_1", CUSTOMER, "Susie", "Hola", ago(minutes=30))
    graph.add_comment(older, "2_1", CUSTOMER, "Susie", "Hola?", ago(minutes=40))
    graph.fail_next(1, 403, path_contains=f"{older}/comments")

    report = reconcile(runtime)

    source = report.per_source[FB_KEY]
    assert (source.recovered, source.recovered_ids) == (1, ["1_1"])
    (error,) = source.errors
    assert "Permissions error" in error
    assert f"{FB_KEY}: error: {error}" in report.lines()
    assert runtime.store.get_state(STATE_SCOPE, FB_KEY) is None
    assert not report.ok
    assert reconcile(runtime).per_source[FB_KEY].recovered == 1  # the next run finds the rest


# --- Instagram ------------------------------------------------------------------------------


def test_instagram_comments_and_replies_are_recovered_into_one_thread(
    graph: MetaGraphEmulator, runtime: Runtime
) -> None:
    media = "17918195224117851"
    graph.add_ig_media(media, ago(days=3))
    graph.add_ig_media("17918195224117852", ago(days=2))  # no comments: no comments call
    graph.add_ig_comment(
        media, "17865799348089039", "1234567890123456", "jane.doe", "Hay en azul?", ago(hours=1)
    )
    graph.add_ig_comment(
        media,
        "17865799348089040",
        "1234567890123457",
        "joe",
        "Yo también",
        ago(minutes=10),
        "17865799348089039",
    )
    graph.add_ig_comment(media, "17865799348089001", "1234567890123458", "old", "Viejo", ago(days=2))

    source = reconcile(runtime).per_source[IG_KEY]

    assert (source.scanned, source.recovered, source.containers) == (2, 2, 1)
    (ticket,) = tickets(runtime)
    assert (ticket["thread_key"], ticket["interaction_count"]) == (
        thread_key_for("instagram", IG_ACCOUNT_ID, media),
        2,
    )
    comment = runtime.store.interaction_by_external("instagram", "17865799348089039")
    reply = runtime.store.interaction_by_external("instagram", "17865799348089040")
    assert comment is not None and reply is not None
    assert (comment.author.handle, comment.author.profile_url) == (
        "jane.doe",
        "https://www.instagram.com/jane.doe/",
    )
    assert reply.parent_external_id == "17865799348089039"
    assert graph.requests_to("17918195224117852/comments") == []


def test_an_instagram_comment_equals_what_its_webhook_would_parse_to(
    tmp_path: Path, graph: MetaGraphEmulator
) -> None:
    media, created = "17918195224117851", ago(hours=1)
    graph.add_ig_media(media, ago(days=1))
    graph.add_ig_comment(media, "17865799348089039", "1234567890123456", "jane.doe", "Hay en azul?", created)
    settings = make_config(tmp_path, graph, None).platforms.meta
    into = reconcile_meta.Fetched()
    brand = frozenset(settings.brand_account_ids)
    reconcile_meta.fetch_instagram(
        GraphClient(settings), IG_ACCOUNT_ID, brand, 25, ago(hours=3), into, ignore
    )
    value = {
        "id": "17865799348089039",
        "from": {"id": "1234567890123456", "username": "jane.doe"},
        "text": "Hay en azul?",
        "media": {"id": media, "media_product_type": "FEED"},
    }
    delivery = {
        "object": "instagram",
        "entry": [
            {
                "id": IG_ACCOUNT_ID,
                "time": int(created.timestamp()),
                "changes": [{"field": "comments", "value": value}],
            }
        ],
    }
    (expected,) = parse_meta(delivery, brand).interactions
    ((found, _),) = into.found
    assert found == expected


# --- X --------------------------------------------------------------------------------------


def test_an_x_mention_is_recovered_with_its_author(xapi: XApiEmulator, runtime: Runtime) -> None:
    xapi.add_user("987654321", "janedoe", "Jane Doe", followers_count=5321, verified=True)
    xapi.add_tweet("1901612345678901234", "987654321", "@AcmeSupport my package never arrived", ago(hours=1))

    source = reconcile(runtime).per_source[X_KEY]

    assert (source.scanned, source.recovered) == (1, 1)
    mention = runtime.store.interaction_by_external("x", "1901612345678901234")
    assert mention is not None
    assert (mention.kind, mention.author.followers_count, mention.author.verified) == ("mention", 5321, True)
    assert (mention.author.handle, mention.author.display_name) == ("janedoe", "Jane Doe")
    assert mention.permalink == "https://x.com/janedoe/status/1901612345678901234"
    assert mention.thread_key == thread_key_for("x", X_BRAND, "1901612345678901234")
    (ticket,) = tickets(runtime)
    assert ticket["thread_key"] == mention.thread_key
    (call,) = xapi.requests_to(f"/2/users/{X_BRAND}/mentions")
    assert call.query["start_time"].endswith("Z") and call.query["expansions"] == "author_id"


def test_an_x_mention_equals_what_its_webhook_would_parse_to(tmp_path: Path, xapi: XApiEmulator) -> None:
    created = ago(hours=1)
    xapi.add_user("987654321", "janedoe", "Jane Doe", followers_count=5321)
    xapi.add_tweet("1901600000000000000", X_BRAND, "We shipped it", ago(hours=3))
    xapi.add_tweet(
        "1901612345678901234", "987654321", "@AcmeSupport it never arrived", created, "1901600000000000000"
    )
    settings = make_config(tmp_path, None, xapi).platforms.x
    into = reconcile_meta.Fetched()
    brand = frozenset(settings.brand_user_ids)
    reconcile_x.fetch_x_mentions(XClient(settings), X_BRAND, brand, ago(hours=2), into, ignore)
    tweet = {
        "created_at": created.strftime("%a %b %d %H:%M:%S +0000 %Y"),
        "id_str": "1901612345678901234",
        "text": "@AcmeSupport it never arrived",
        "in_reply_to_status_id_str": "1901600000000000000",
        "in_reply_to_user_id_str": X_BRAND,
        "user": {
            "id_str": "987654321",
            "name": "Jane Doe",
            "screen_name": "janedoe",
            "followers_count": 5321,
            "verified": False,
        },
        "entities": {
            "user_mentions": [{"screen_name": "AcmeSupport", "id_str": X_BRAND, "indices": [0, 12]}]
        },
        "lang": "en",
        "timestamp_ms": str(int(created.timestamp() * 1000)),
    }
    (expected,) = parse_x({"for_user_id": X_BRAND, "tweet_create_events": [tweet]}, brand).interactions
    ((found, _),) = into.found
    assert found == expected
    assert found.thread_key == thread_key_for("x", X_BRAND, "1901600000000000000")


def test_x_mentions_are_read_across_pages(
    xapi: XApiEmulator, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(reconcile_x.MENTION_PARAMS, "max_results", 5)
    xapi.add_user("987654321", "janedoe", "Jane Doe")
    for n in range(12):
        xapi.add_tweet(
            str(1901612345678901000 + n), "987654321", f"@AcmeSupport ping {n}", ago(minutes=60 - n)
        )

    source = reconcile(runtime).per_source[X_KEY]

    assert (source.scanned, source.recovered, source.containers) == (12, 12, 3)
    calls = xapi.requests_to("/mentions")
    assert [("pagination_token" in c.query) for c in calls] == [False, True, True]


def test_a_throttled_graph_reports_an_error_and_x_still_runs(
    graph: MetaGraphEmulator, xapi: XApiEmulator, runtime: Runtime
) -> None:
    post_id = seed_post(graph)
    graph.add_comment(post_id, "407298303721936_1", CUSTOMER, "Susie", "Hola", ago(hours=1))
    graph.throttle_next(1, code=4, minutes_to_regain=5)
    xapi.add_user("987654321", "janedoe", "Jane Doe")
    xapi.add_tweet("1901612345678901234", "987654321", "@AcmeSupport hola", ago(hours=1))

    report = reconcile(runtime)

    facebook = report.per_source[FB_KEY]
    assert facebook.recovered == 0 and "throttled" in facebook.errors[0]
    # Meta throttles the app as a whole: the Instagram account waits too.
    assert report.per_source[IG_KEY].errors
    assert report.per_source[X_KEY].recovered == 1 and not report.per_source[X_KEY].errors
    assert runtime.store.get_state(STATE_SCOPE, FB_KEY) is None
    assert runtime.store.get_state(STATE_SCOPE, X_KEY) is not None
    assert not report.ok


# --- configuration and report -----------------------------------------------------------------


def test_a_platform_without_a_token_is_not_polled_and_not_an_error(
    tmp_path: Path, graph: MetaGraphEmulator, xapi: XApiEmulator
) -> None:
    config = make_config(tmp_path, graph, xapi, tokens=False)
    store = Store(config.database_url)
    store.create_schema()

    report = reconcile(Runtime(config, store))

    assert report.lines() == [
        f"{FB_KEY}: not polled: platforms.meta.page_access_token is not set",
        f"{IG_KEY}: not polled: platforms.meta.page_access_token (or instagram_access_token) is not set",
        f"{X_KEY}: not polled: platforms.x.access_token is not set",
    ]
    assert report.ok
    assert graph.request_log == [] and xapi.request_log == []
    store.dispose()


def test_unconfigured_platforms_are_not_sources(tmp_path: Path) -> None:
    data = base_config(tmp_path, platforms={})
    config = config_from_dict(data, base_dir=str(tmp_path))
    store = Store(config.database_url)
    store.create_schema()
    assert reconcile(Runtime(config, store)).per_source == {}
    store.dispose()


def test_since_overrides_the_watermark_without_skipping_a_gap(
    graph: MetaGraphEmulator, runtime: Runtime
) -> None:
    post_id = seed_post(graph, "1", minutes=90)
    graph.add_comment(post_id, "1_1", CUSTOMER, "Susie", "Hola", ago(hours=1))
    runtime.store.set_state(STATE_SCOPE, FB_KEY, ago(hours=5).isoformat())

    short = reconcile(runtime, since=timedelta(minutes=30)).per_source[FB_KEY]

    assert (short.scanned, short.recovered) == (0, 0)
    # Hours 5 to 0.5 were not read: the watermark stays for the scheduled run.
    assert runtime.store.get_state(STATE_SCOPE, FB_KEY) == ago(hours=5).isoformat()
    assert reconcile(runtime).per_source[FB_KEY].recovered == 1


def test_report_lines_read_like_a_summary(graph: MetaGraphEmulator, runtime: Runtime) -> None:
    post_id = seed_post(graph)
    for n in range(7):
        graph.add_comment(post_id, f"407298303721936_{n}", f"u{n}", "Someone", "hola", ago(minutes=50 - n))
    report = reconcile(runtime)
    line = next(line for line in report.lines() if line.startswith(FB_KEY))
    since = report.per_source[FB_KEY].since
    assert line == (
        f"{FB_KEY}: scanned 7 comments on 1 posts since {since:%Y-%m-%d %H:%M} UTC, recovered 7 "
        "(407298303721936_0, 407298303721936_1, 407298303721936_2, 407298303721936_3, 407298303721936_4, "
        "and 2 more), 0 already known"
    )
    assert isinstance(report, ReconcileReport) and report.total_recovered == 7


def test_the_raw_event_keeps_the_fetched_objects(graph: MetaGraphEmulator, runtime: Runtime) -> None:
    post_id = seed_post(graph)
    graph.add_comment(post_id, "407298303721936_1", CUSTOMER, "Susie", "Hola", ago(hours=1))
    reconcile(runtime)
    with runtime.store.read() as conn:
        (row,) = conn.execute(raw_events.select()).all()
    assert row.source == "reconcile:facebook"
    (obj,) = json.loads(row.body)
    assert obj["id"] == "407298303721936_1" and obj["from"]["id"] == CUSTOMER
