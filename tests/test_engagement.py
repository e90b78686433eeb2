"""Engagement (replies, reactions, shares): the model, the parsers, the store, and triage's functions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from connector import reconcile_meta, reconcile_x
from connector.config import config_from_dict
from connector.engagement import (
    REACH_CEILING,
    SPREADING_CONVERSATION,
    SPREADING_SHARES,
    engagement_label,
    engagement_reach,
    spreading,
)
from connector.model import Author, Engagement, InboundBatch, Interaction
from connector.publish.x_api import XClient, reset_limits
from connector.schema import interactions
from connector.store import ENGAGEMENT_KEY, Store
from connector.triage_batch import read_records
from tests.conftest import GENERIC_SOURCE, IG_ACCOUNT_ID, META_PAGE_ID, X_BRAND_IDS, base_config
from tests.emulators.x_api import XApiEmulator
from tests.signing import compact, fixture_bytes, fixture_json, fixture_names, post_generic, post_x
from webhooks.errors import MalformedPayloadError
from webhooks.generic_parse import parse_generic
from webhooks.meta_parse import comment_engagement, parse_meta
from webhooks.payload import Node
from webhooks.x_parse import Delivery, parse_x, tweet_engagement

FOLDER = "engagement"
X_BRAND = X_BRAND_IDS[0]
BRAND = frozenset(X_BRAND_IDS)
META_BRAND = frozenset({META_PAGE_ID, IG_ACCOUNT_ID})


def fixture(name: str) -> dict[str, Any]:
    return fixture_json(FOLDER, name)


def raw_fixture(name: str) -> bytes:
    return fixture_bytes(FOLDER, name)


def make_interaction(engagement: Engagement | None = None, raw: dict[str, Any] | None = None) -> Interaction:
    return Interaction(
        platform="x",
        kind="mention",
        external_id="1901880000000000042",
        thread_key=f"x:{X_BRAND}:1901880000000000042",
        brand_account_id=X_BRAND,
        author=Author("x", "5566778899", handle="tombaker_uk", followers_count=2310),
        text="@AcmeSupport still no refund",
        created_at=datetime(2025, 3, 18, 8, 5, tzinfo=UTC),
        raw=raw if raw is not None else {"id_str": "1901880000000000042"},
        engagement=engagement,
    )


# --- the model --------------------------------------------------------------------------------


def test_total_counts_unknown_parts_as_zero_and_known_says_whether_anything_was_counted() -> None:
    assert Engagement(replies=3, reactions=None, shares=2).total == 5
    assert Engagement(replies=0).known and Engagement(replies=0).total == 0
    assert not Engagement().known and Engagement().total == 0


def test_of_is_none_when_the_platform_said_nothing() -> None:
    assert Engagement.of() is None
    assert Engagement.of(None, None, None) is None
    assert Engagement.of(reactions=0) == Engagement(reactions=0)


@pytest.mark.parametrize("bad", [-1, True, 2.5, "7"])
def test_a_count_must_be_a_non_negative_integer(bad: Any) -> None:
    with pytest.raises(ValueError, match=r"engagement\.shares"):
        Engagement(shares=bad)


def test_interaction_round_trips_through_its_dict_with_engagement() -> None:
    item = make_interaction(Engagement(replies=143, reactions=3420, shares=70))
    data = item.to_dict()
    assert data["engagement"] == {"replies": 143, "reactions": 3420, "shares": 70}
    json.dumps(data)
    back = Interaction.from_dict(data)
    assert back == item and back.engagement == item.engagement


def test_a_dict_stored_before_engagement_existed_still_loads() -> None:
    data = make_interaction().to_dict()
    assert data["engagement"] is None
    del data["engagement"]
    assert Interaction.from_dict(data).engagement is None


def test_engagement_is_a_snapshot_not_part_of_the_records_identity() -> None:
    # The same comment read by its webhook (no counts) and by reconcile (counts) is one record.
    assert make_interaction(None) == make_interaction(Engagement(replies=5))


# --- triage's functions -----------------------------------------------------------------------


def test_reach_is_zero_when_nothing_is_known() -> None:
    assert engagement_reach(None) == 0.0
    assert engagement_reach(Engagement()) == 0.0
    assert engagement_reach(Engagement(replies=0, reactions=0, shares=0)) == 0.0


def test_reach_is_log_scale_up_to_the_ceiling() -> None:
    assert REACH_CEILING == 1_000
    assert engagement_reach(Engagement(reactions=10)) == pytest.approx(0.347, abs=0.001)
    assert engagement_reach(Engagement(replies=40, reactions=50, shares=10)) == pytest.approx(
        0.668, abs=0.001
    )
    assert engagement_reach(Engagement(reactions=REACH_CEILING)) == 1.0
    assert engagement_reach(Engagement(replies=143, reactions=3420, shares=70)) == 1.0
    ladder = [engagement_reach(Engagement(reactions=n)) for n in (1, 5, 50, 500, 5000)]
    assert ladder == sorted(ladder) and all(0.0 <= r <= 1.0 for r in ladder)


def test_spreading_needs_many_shares_or_a_busy_conversation() -> None:
    assert (SPREADING_SHARES, SPREADING_CONVERSATION) == (50, 100)
    assert not spreading(None)
    assert not spreading(Engagement())
    assert spreading(Engagement(shares=50))
    assert not spreading(Engagement(shares=49, replies=10, reactions=89))
    assert spreading(Engagement(replies=10, reactions=90))
    assert spreading(Engagement(replies=100))
    assert not spreading(Engagement(reactions=99, shares=None))


@pytest.mark.parametrize(
    ("engagement", "label"),
    [
        (None, None),
        (Engagement(), None),
        (Engagement(replies=0, reactions=0, shares=0), None),
        (Engagement(replies=120, reactions=3400), "120 replies, 3.4k reactions"),
        (Engagement(replies=1, reactions=1, shares=1), "1 reply, 1 reaction, 1 share"),
        (Engagement(replies=None, reactions=2_000_000, shares=70), "2M reactions, 70 shares"),
        (Engagement(replies=0, reactions=None, shares=1250), "1.2k shares"),
    ],
)
def test_label_skips_unknown_and_zero_parts(engagement: Engagement | None, label: str | None) -> None:
    assert engagement_label(engagement) == label


# --- X ----------------------------------------------------------------------------------------


def test_an_account_activity_tweet_carries_its_counts() -> None:
    (item,) = parse_x(fixture("x_aaa__quote_with_counts"), X_BRAND_IDS).interactions
    # Shares = retweets + quotes; the quoted tweet's own counts are not this tweet's.
    assert item.engagement == Engagement(replies=143, reactions=3420, shares=70)
    assert engagement_label(item.engagement) == "143 replies, 3.4k reactions, 70 shares"
    assert spreading(item.engagement) and engagement_reach(item.engagement) == 1.0


def test_a_fresh_tweet_has_known_zero_counts() -> None:
    (item,) = parse_x(fixture("x_aaa__fresh_reply"), X_BRAND_IDS).interactions
    assert item.engagement == Engagement(replies=0, reactions=0, shares=0)
    assert engagement_label(item.engagement) is None and not spreading(item.engagement)


def test_a_tweet_without_counts_has_no_engagement() -> None:
    (item,) = parse_x(fixture_json("x", "tweet_create_events__mention"), X_BRAND_IDS).interactions
    assert item.engagement is None


def test_v2_public_metrics_are_read_like_the_v1_counts() -> None:
    (tweet,) = fixture("x_v2__mentions_page")["data"]
    assert tweet_engagement(tweet) == Engagement(replies=57, reactions=1204, shares=54)


def test_public_metrics_win_over_stale_v1_counts_and_fill_what_they_lack() -> None:
    tweet = {"reply_count": 1, "favorite_count": 2, "public_metrics": {"reply_count": 9, "retweet_count": 4}}
    assert tweet_engagement(tweet) == Engagement(replies=9, reactions=2, shares=4)


@pytest.mark.parametrize("bad", ["12", -4, True, 1.5, None])
def test_a_count_of_the_wrong_shape_is_unknown_not_a_refused_delivery(bad: Any) -> None:
    payload = fixture("x_aaa__fresh_reply")
    payload["tweet_create_events"][0]["reply_count"] = bad
    (item,) = parse_x(payload, X_BRAND_IDS).interactions
    assert item.engagement == Engagement(replies=None, reactions=0, shares=0)


def test_a_reconciled_v2_mention_keeps_its_public_metrics() -> None:
    page = fixture("x_v2__mentions_page")
    users = {user["id"]: user for user in page["includes"]["users"]}
    delivery = Delivery(Node.root({"for_user_id": X_BRAND}), X_BRAND, BRAND)
    item = reconcile_x.mention_interaction(delivery, page["data"][0], users)
    assert item is not None and item.kind == "mention"
    assert item.engagement == Engagement(replies=57, reactions=1204, shares=54)
    # Rewritten under the v1.1 names a webhook uses, so the webhook's parser read them.
    assert {k: item.raw[k] for k in ("reply_count", "retweet_count", "quote_count", "favorite_count")} == {
        "reply_count": 57,
        "retweet_count": 48,
        "quote_count": 6,
        "favorite_count": 1204,
    }


def test_reconcile_asks_x_for_public_metrics() -> None:
    assert "public_metrics" in reconcile_x.MENTION_PARAMS["tweet.fields"].split(",")


@pytest.fixture
def xapi() -> Iterator[XApiEmulator]:
    with XApiEmulator(brand_user_id=X_BRAND) as emulator:
        emulator.add_user_token("x-user-token")
        yield emulator
    reset_limits()


def test_mentions_read_from_the_x_api_carry_its_counts(tmp_path: Path, xapi: XApiEmulator) -> None:
    created = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)
    xapi.add_user("987654321", "janedoe", "Jane Doe", followers_count=5321)
    xapi.add_tweet("1901612345678901234", "987654321", "@AcmeSupport it never arrived", created)
    xapi.add_tweet("1901612345678901299", X_BRAND, "@janedoe sorry! DM us", created, "1901612345678901234")
    data = base_config(
        tmp_path,
        platforms={
            "x": {
                "brand_user_ids": X_BRAND_IDS,
                "api_base_url": xapi.base_url,
                "access_token": "x-user-token",
            }
        },
    )
    settings = config_from_dict(data, base_dir=str(tmp_path)).platforms.x
    into = reconcile_meta.Fetched()
    start = created - timedelta(hours=1)
    reconcile_x.fetch_x_mentions(XClient(settings), X_BRAND, BRAND, start, into, lambda _m: None)
    ((item, _source),) = into.found
    # The emulator counts replies and reports zero likes, retweets and quotes.
    assert item.engagement == Engagement(replies=1, reactions=0, shares=0)


# --- Meta -------------------------------------------------------------------------------------


def test_a_comment_webhook_has_no_counts() -> None:
    (item,) = parse_meta(fixture_json("meta", "feed__comment_add"), META_BRAND).interactions
    assert item.engagement is None
    (ig,) = parse_meta(fixture_json("meta", "instagram__comment"), META_BRAND).interactions
    assert ig.engagement is None


def test_a_facebook_comment_read_from_graph_carries_its_counts() -> None:
    comment = fixture("graph__facebook_comment")
    post = {"id": f"{META_PAGE_ID}_407298303721936", "permalink_url": "https://www.facebook.com/x/posts/1"}
    item = reconcile_meta.facebook_comment(comment, post, META_PAGE_ID, META_BRAND)
    assert item is not None
    # Every reaction (268) rather than only the likes (212); comments have no share count.
    assert item.engagement == Engagement(replies=37, reactions=268, shares=None)
    assert engagement_label(item.engagement) == "37 replies, 268 reactions"


def test_likes_stand_in_when_graph_gives_no_reaction_summary() -> None:
    assert comment_engagement({"like_count": 4, "comment_count": 0}) == Engagement(replies=0, reactions=4)
    assert comment_engagement({"like_count": "4", "reactions": {"summary": []}}) is None


def test_an_instagram_comment_read_from_graph_carries_its_likes() -> None:
    comment = fixture("graph__instagram_comment")
    item = reconcile_meta.instagram_comment(comment, "17918195224117851", IG_ACCOUNT_ID, META_BRAND)
    assert item is not None and item.engagement == Engagement(reactions=1)
    assert engagement_label(item.engagement) == "1 reaction"


def test_reconcile_asks_instagram_for_likes() -> None:
    assert "like_count" in reconcile_meta.IG_COMMENT_FIELDS


# --- generic ----------------------------------------------------------------------------------


def test_a_generic_body_may_carry_engagement() -> None:
    (item,) = parse_generic(fixture("generic__review_with_engagement"), GENERIC_SOURCE).interactions
    assert item.engagement == Engagement(replies=23, reactions=412, shares=None)


def test_a_generic_body_without_engagement_has_none() -> None:
    (item,) = parse_generic(fixture_json("generic", "interaction__comment"), GENERIC_SOURCE).interactions
    assert item.engagement is None
    body = {**fixture_json("generic", "interaction__comment"), "engagement": None}
    assert parse_generic(body, GENERIC_SOURCE).interactions[0].engagement is None
    body["engagement"] = {}
    assert parse_generic(body, GENERIC_SOURCE).interactions[0].engagement is None


def test_a_whole_float_count_is_an_integer() -> None:
    body = {**fixture_json("generic", "interaction__comment"), "engagement": {"shares": 5.0}}
    (item,) = parse_generic(body, GENERIC_SOURCE).interactions
    assert item.engagement == Engagement(shares=5) and isinstance(item.engagement.shares, int)


BAD_ENGAGEMENT: list[tuple[str, Any, str]] = [
    (
        "negative",
        {"replies": -3},
        "engagement.replies: -3 is not a count (an integer >= 0, or null when unknown)",
    ),
    ("text", {"reactions": "many"}, "engagement.reactions: 'many' is not a count"),
    ("fraction", {"shares": 1.5}, "engagement.shares: 1.5 is not a count"),
    ("boolean", {"shares": True}, "engagement.shares: True is not a count"),
    (
        "unknown part",
        {"likes": 4},
        "engagement: Additional properties are not allowed ('likes' was unexpected)",
    ),
    ("not an object", [1, 2], "engagement: [1, 2] is not of type 'object', 'null'"),
]


@pytest.mark.parametrize(
    ("engagement", "message"), [c[1:] for c in BAD_ENGAGEMENT], ids=[c[0] for c in BAD_ENGAGEMENT]
)
def test_invalid_engagement_is_a_400_that_names_the_field(
    client: FlaskClient, store: Store, engagement: Any, message: str
) -> None:
    body = {**fixture_json("generic", "interaction__comment"), "engagement": engagement}
    with pytest.raises(MalformedPayloadError):
        parse_generic(body, GENERIC_SOURCE)
    response = post_generic(client, compact(body), msg_id="msg_bad_engagement")
    assert response.status_code == 400
    answer = response.get_json()
    assert answer["error"] == "malformed" and answer["message"].startswith(message)
    assert store.interaction_by_external("generic", "forum-post-5f8e2c1a9d") is None


# --- the store --------------------------------------------------------------------------------


def test_engagement_survives_the_store_and_raw_stays_the_platforms(any_store: Store) -> None:
    counted = make_interaction(Engagement(replies=143, reactions=3420, shares=None))
    plain = Interaction.from_dict({**make_interaction().to_dict(), "external_id": "2", "engagement": None})
    any_store.ingest("x", b"{}", {}, InboundBatch(interactions=(counted, plain)))

    loaded = any_store.interaction_by_external("x", counted.external_id)
    assert loaded is not None and loaded.engagement == counted.engagement
    assert loaded.raw == counted.raw and ENGAGEMENT_KEY not in loaded.raw
    other = any_store.interaction_by_external("x", "2")
    assert other is not None and other.engagement is None and other.raw == plain.raw
    assert loaded.id is not None
    (stored,) = any_store.get_interactions([loaded.id]).values()
    assert stored.interaction.engagement == counted.engagement
    (first, _second) = any_store.thread_interactions(counted.thread_key)
    assert first.engagement == counted.engagement
    # No schema change: the counts ride in the raw JSON column.
    with any_store.engine.connect() as conn:
        raw = (
            conn.execute(interactions.select().where(interactions.c.external_id == counted.external_id))
            .one()
            .raw
        )
    assert raw[ENGAGEMENT_KEY] == {"replies": 143, "reactions": 3420, "shares": None}


def test_enriching_an_interaction_keeps_its_engagement(store: Store) -> None:
    item = make_interaction(Engagement(shares=80))
    store.ingest("x", b"{}", {}, InboundBatch(interactions=(item,)))
    loaded = store.interaction_by_external("x", item.external_id)
    assert loaded is not None
    store.enrich_interaction(loaded)
    again = store.interaction_by_external("x", item.external_id)
    assert again is not None and again.engagement == Engagement(shares=80)


def test_x_webhook_counts_are_stored(client: FlaskClient, store: Store) -> None:
    response = post_x(client, raw_fixture("x_aaa__quote_with_counts"))
    assert response.status_code == 200, response.get_json()
    item = store.interaction_by_external("x", "1901880000000000042")
    assert item is not None and item.engagement == Engagement(replies=143, reactions=3420, shares=70)


def test_generic_delivery_with_engagement_is_stored(client: FlaskClient, store: Store) -> None:
    response = post_generic(client, raw_fixture("generic__review_with_engagement"), msg_id="msg_engaged")
    assert response.status_code == 200, response.get_json()
    item = store.interaction_by_external("generic", "rev-2025-03-18-0917")
    assert item is not None and item.engagement == Engagement(replies=23, reactions=412)


# --- ventanilla triage FILE.jsonl -------------------------------------------------------------


def test_triage_file_lines_pass_engagement_through(tmp_path: Path) -> None:
    with_counts = {**fixture("generic__review_with_engagement"), "label": {"priority": "P1"}}
    without = fixture_json("generic", "interaction__comment")
    bad = {**without, "external_id": "bad", "engagement": {"replies": -1}}
    path = tmp_path / "in.jsonl"
    path.write_text(
        "\n".join(json.dumps(line) for line in (with_counts, without, bad)) + "\n", encoding="utf-8"
    )
    first, second, third = read_records(path)
    assert not isinstance(first, Exception) and not isinstance(second, Exception)
    assert first.interaction.engagement == Engagement(replies=23, reactions=412)
    assert second.interaction.engagement is None
    assert isinstance(third, Exception) and f"{path}:3: engagement.replies: -1 is not a count" in str(third)


# --- fixtures ---------------------------------------------------------------------------------


def test_every_engagement_fixture_is_used() -> None:
    """Each file of tests/fixtures/engagement is read by a test of this module."""
    source = Path(__file__).read_text(encoding="utf-8")
    names = fixture_names(FOLDER)
    assert names and {name for name in names if f'fixture("{name}")' not in source} == set()


# --- triage --------------------------------------------------------------------------------------


def test_a_post_that_spreads_raises_influence_and_risk_and_says_why() -> None:
    from dataclasses import replace

    from connector.config import TriageSettings
    from connector.triage import triage_interaction

    quiet = replace(make_interaction(), text="the app double charged me again, 30 euros twice")
    quiet = replace(quiet, author=replace(quiet.author, followers_count=40, verified=False))
    viral = replace(quiet, engagement=Engagement(replies=240, reactions=3400, shares=70))
    settings = TriageSettings()
    before, after = triage_interaction(quiet, None, settings), triage_interaction(viral, None, settings)
    assert after.influence > before.influence and after.risk > before.risk
    assert "240 replies, 3.4k reactions, 70 shares" in after.explanation
    assert after.priority <= before.priority  # "P2" < "P3": never less urgent
