"""Self-tests of the Meta Graph API emulator, with plain ``requests`` calls as a connector would make."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.emulators.meta_graph import MetaGraphEmulator
from tests.emulators.tls import make_tls

T0 = datetime(2025, 3, 17, 12, 0, tzinfo=UTC)
PAGE = "103149398319188"
IG = "17841405309211844"
POST = f"{PAGE}_407298303721936"
COMMENT = "407298303721936_408074786977621"


class Clock:
    """A settable clock for the emulator: tests move time instead of sleeping."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


def _start(clock: Clock, **kwargs: Any) -> MetaGraphEmulator:
    emulator = MetaGraphEmulator(**kwargs)
    emulator.clock = clock
    return emulator.start()


@pytest.fixture
def graph(clock: Clock) -> Iterator[MetaGraphEmulator]:
    emulator = _start(clock)
    yield emulator
    emulator.stop()


def call(
    graph: MetaGraphEmulator,
    method: str,
    path: str,
    token: str | None = "EAAG-page-token",
    **kwargs: Any,
) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.request(method, f"{graph.base_url}{path}", headers=headers, timeout=10, **kwargs)


def error(response: requests.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()["error"]
    assert set(body) >= {"message", "type", "code", "fbtrace_id"}
    return body


def seed_post(graph: MetaGraphEmulator) -> None:
    graph.add_post(POST, T0 - timedelta(days=1), "New blue shoes!")
    graph.add_comment(POST, COMMENT, "3450429531722233", "Susie Example", "Where can I buy this?", T0)


# -- transport, auth, errors -----------------------------------------------------------------------------


def test_https_with_the_test_ca(tmp_path: Path, clock: Clock) -> None:
    tls = make_tls(tmp_path)
    with MetaGraphEmulator(tls=tls) as graph:
        graph.clock = clock
        assert graph.base_url.startswith("https://127.0.0.1:")
        response = requests.get(
            f"{graph.base_url}/v21.0/{PAGE}",
            params={"fields": "id,name", "access_token": "EAAG-page-token"},
            verify=tls.ca_path,
            timeout=10,
        )
    assert response.status_code == 200
    assert response.json() == {"id": PAGE, "name": "Acme"}


@pytest.mark.parametrize("token", [None, "not-a-token"])
def test_missing_or_unknown_token_is_190_without_usage_headers(
    graph: MetaGraphEmulator, token: str | None
) -> None:
    response = call(graph, "GET", f"/v21.0/{PAGE}", token=token)
    assert response.status_code == 400
    body = error(response)
    assert body["code"] == 190
    assert body["type"] == "OAuthException"
    assert body["message"] == "Invalid OAuth access token - Cannot parse access token"
    assert "X-App-Usage" not in response.headers


def test_token_in_query_form_or_json(graph: MetaGraphEmulator) -> None:
    seed_post(graph)
    assert call(graph, "GET", f"/v25.0/{PAGE}", token=None, params={"access_token": "EAAG-page-token"}).ok
    form = {"message": "Thanks!", "access_token": "EAAG-page-token"}
    assert call(graph, "POST", f"/v21.0/{COMMENT}/comments", token=None, data=form).ok
    body = {"message": "Again", "access_token": "EAAG-page-token"}
    assert call(graph, "POST", f"/v21.0/{COMMENT}/comments", token=None, json=body).ok


def test_path_without_version_is_2500(graph: MetaGraphEmulator) -> None:
    response = call(graph, "GET", f"/{PAGE}/posts")
    assert response.status_code == 400
    assert error(response)["code"] == 2500


def test_unknown_object_and_unsupported_request(graph: MetaGraphEmulator) -> None:
    seed_post(graph)
    missing = error(call(graph, "POST", "/v21.0/999_999/comments", data={"message": "x"}))
    assert (missing["code"], missing["error_subcode"]) == (100, 33)
    assert "Object with ID '999_999' does not exist" in missing["message"]
    response = call(graph, "GET", f"/v21.0/{COMMENT}/likes")
    assert response.status_code == 400
    assert error(response)["code"] == 100
    bad_field = error(call(graph, "GET", f"/v21.0/{COMMENT}", params={"fields": "id,nonsense"}))
    assert bad_field["code"] == 100


def test_usage_headers_on_every_authenticated_answer(graph: MetaGraphEmulator) -> None:
    graph.page_call_limit = 10
    for _ in range(3):
        response = call(graph, "GET", f"/v21.0/{PAGE}")
    app = json.loads(response.headers["X-App-Usage"])
    assert app == {"call_count": 30, "total_cputime": 15, "total_time": 15}
    buc = json.loads(response.headers["X-Business-Use-Case-Usage"])
    assert buc[PAGE][0]["type"] == "pages"
    assert buc[PAGE][0]["call_count"] == 30
    assert buc[PAGE][0]["estimated_time_to_regain_access"] == 0
    ig = json.loads(call(graph, "GET", f"/v21.0/{IG}/media").headers["X-Business-Use-Case-Usage"])
    assert ig[IG][0]["type"] == "instagram"
    missing = call(graph, "GET", "/v21.0/404404")
    assert missing.status_code == 400 and "X-App-Usage" in missing.headers


# -- Facebook comments and posts -------------------------------------------------------------------------


def test_reply_to_a_facebook_comment(graph: MetaGraphEmulator, clock: Clock) -> None:
    seed_post(graph)
    response = call(graph, "POST", f"/v21.0/{COMMENT}/comments", data={"message": "We've sent you a DM."})
    assert response.status_code == 200
    reply_id = response.json()["id"]
    assert reply_id.startswith("407298303721936_")
    # a reply to that reply attaches to the top-level comment (one level deep)
    nested = call(graph, "POST", f"/v21.0/{reply_id}/comments", json={"message": "And more."}).json()["id"]
    fields = "id,message,from,parent,created_time"
    stored = call(graph, "GET", f"/v21.0/{nested}", params={"fields": fields}).json()
    assert stored == {
        "id": nested,
        "message": "And more.",
        "from": {"id": PAGE, "name": "Acme"},
        "parent": {"id": COMMENT},
        "created_time": "2025-03-17T12:00:00+0000",
    }
    assert [(p["kind"], p["target"], p["text"]) for p in graph.posted()] == [
        ("comment_reply", COMMENT, "We've sent you a DM."),
        ("comment_reply", reply_id, "And more."),
    ]
    missing = error(call(graph, "POST", f"/v21.0/{COMMENT}/comments", data={}))
    assert missing["code"] == 100
    assert missing["message"] == "(#100) param message must be non-empty"


def test_comment_listing_filters_and_order(graph: MetaGraphEmulator) -> None:
    seed_post(graph)
    graph.add_comment(POST, "407298303721936_2", "77", "Bob", "Me too", T0 + timedelta(minutes=5), COMMENT)
    graph.add_comment(POST, "407298303721936_3", "88", "Ann", "Nice", T0 + timedelta(minutes=9))
    fields = {"fields": "id,message,from,parent,created_time,is_hidden,permalink_url"}
    top = call(graph, "GET", f"/v21.0/{POST}/comments", params=fields).json()["data"]
    assert [c["id"] for c in top] == [COMMENT, "407298303721936_3"]
    assert top[0]["from"] == {"id": "3450429531722233", "name": "Susie Example"}
    assert "parent" not in top[0]
    assert top[0]["is_hidden"] is False
    assert top[0]["created_time"] == "2025-03-17T12:00:00+0000"
    assert top[0]["permalink_url"].startswith("https://www.facebook.com/")
    stream = call(graph, "GET", f"/v21.0/{POST}/comments", params={**fields, "filter": "stream"}).json()[
        "data"
    ]
    assert [c["id"] for c in stream] == [COMMENT, "407298303721936_2", "407298303721936_3"]
    assert stream[1]["parent"] == {"id": COMMENT}
    newest = call(graph, "GET", f"/v21.0/{POST}/comments", params={"order": "reverse_chronological"}).json()
    assert [c["id"] for c in newest["data"]] == ["407298303721936_3", COMMENT]
    replies = call(graph, "GET", f"/v21.0/{COMMENT}/comments").json()["data"]
    assert [c["id"] for c in replies] == ["407298303721936_2"]
    since = int((T0 + timedelta(minutes=1)).timestamp())
    later = call(graph, "GET", f"/v21.0/{POST}/comments", params={"filter": "stream", "since": since}).json()
    assert [c["id"] for c in later["data"]] == ["407298303721936_2", "407298303721936_3"]


def test_paging_through_three_pages_with_next(graph: MetaGraphEmulator) -> None:
    graph.add_post(POST, T0)
    ids = [f"407298303721936_{n}" for n in range(1, 6)]
    for n, comment_id in enumerate(ids):
        graph.add_comment(POST, comment_id, "9", "Fan", f"c{n}", T0 + timedelta(minutes=n))
    url: str | None = f"{graph.base_url}/v21.0/{POST}/comments?limit=2&fields=id,message"
    pages: list[list[str]] = []
    while url:
        body = requests.get(url, headers={"Authorization": "Bearer EAAG-page-token"}, timeout=10).json()
        pages.append([c["id"] for c in body["data"]])
        assert set(body["paging"]["cursors"]) == {"before", "after"}
        url = body["paging"].get("next")
    assert pages == [ids[0:2], ids[2:4], ids[4:5]]
    # the after cursor works on its own, too
    first = call(graph, "GET", f"/v21.0/{POST}/comments", params={"limit": 2}).json()
    after = first["paging"]["cursors"]["after"]
    second = call(graph, "GET", f"/v21.0/{POST}/comments", params={"limit": 2, "after": after}).json()
    assert [c["id"] for c in second["data"]] == ids[2:4]


def test_page_posts_and_feed_newest_first(graph: MetaGraphEmulator) -> None:
    graph.add_post(f"{PAGE}_1", T0 - timedelta(days=2), "old")
    graph.add_post(f"{PAGE}_2", T0 - timedelta(days=1), "new", permalink_url="https://fb.example/2")
    graph.add_post(f"{PAGE}_3", T0, "visitor says hi", from_id="42", from_name="Vic")
    fields = {"fields": "id,message,created_time,permalink_url,updated_time"}
    posts = call(graph, "GET", f"/v21.0/{PAGE}/posts", params=fields).json()["data"]
    assert [p["id"] for p in posts] == [f"{PAGE}_2", f"{PAGE}_1"]
    assert posts[0] == {
        "id": f"{PAGE}_2",
        "message": "new",
        "created_time": "2025-03-16T12:00:00+0000",
        "permalink_url": "https://fb.example/2",
        "updated_time": "2025-03-16T12:00:00+0000",
    }
    feed = call(graph, "GET", f"/v21.0/{PAGE}/feed", params={"limit": 2}).json()
    assert [p["id"] for p in feed["data"]] == [f"{PAGE}_3", f"{PAGE}_2"]
    assert "next" in feed["paging"]
    until = (T0 - timedelta(days=1)).isoformat()
    older = call(graph, "GET", f"/v21.0/{PAGE}/feed", params={"until": until}).json()
    assert [p["id"] for p in older["data"]] == [f"{PAGE}_2", f"{PAGE}_1"]


def test_hide_facebook_and_instagram_comments(graph: MetaGraphEmulator) -> None:
    seed_post(graph)
    graph.add_ig_media("1791", T0)
    graph.add_ig_comment("1791", "1786", "55", "jane.doe", "spam", T0)
    assert call(graph, "POST", f"/v21.0/{COMMENT}", data={"is_hidden": "true"}).json() == {"success": True}
    assert call(graph, "POST", "/v21.0/1786", params={"hide": "true"}).json() == {"success": True}
    assert call(graph, "GET", f"/v21.0/{COMMENT}", params={"fields": "is_hidden"}).json()["is_hidden"] is True
    assert call(graph, "GET", "/v21.0/1786", params={"fields": "hidden"}).json() == {
        "hidden": True,
        "id": "1786",
    }
    assert graph.hidden() == {COMMENT: True, "1786": True}
    call(graph, "POST", f"/v21.0/{COMMENT}", json={"is_hidden": False})
    assert graph.hidden()[COMMENT] is False


# -- Instagram -----------------------------------------------------------------------------------------


def seed_ig(graph: MetaGraphEmulator) -> None:
    graph.add_ig_media("17918195224117851", T0 - timedelta(days=1), "Blue shoes", username="acme")
    graph.add_ig_comment("17918195224117851", "17865799348089039", "1234", "jane.doe", "In blue?", T0)


def test_instagram_reply_and_reads(graph: MetaGraphEmulator, clock: Clock) -> None:
    seed_ig(graph)
    clock.advance(minutes=10)
    response = call(graph, "POST", "/v21.0/17865799348089039/replies", params={"message": "Check your DMs"})
    assert response.status_code == 200
    reply_id = response.json()["id"]
    nested = call(graph, "POST", f"/v21.0/{reply_id}/replies", data={"message": "again"}).json()["id"]
    fields = "id,text,timestamp,username,from,parent_id"
    replies = call(graph, "GET", "/v21.0/17865799348089039/replies", params={"fields": fields}).json()["data"]
    assert [r["id"] for r in replies] == [reply_id, nested]
    assert replies[0] == {
        "id": reply_id,
        "text": "Check your DMs",
        "timestamp": "2025-03-17T12:10:00+0000",
        "username": "acme",
        "from": {"id": IG, "username": "acme"},
        "parent_id": "17865799348089039",
    }
    params = {"fields": "id,text,from{id,username},like_count,hidden,replies{id,text,timestamp,from}"}
    comments = call(graph, "GET", "/v21.0/17918195224117851/comments", params=params).json()["data"]
    assert len(comments) == 1
    assert comments[0]["from"] == {"id": "1234", "username": "jane.doe"}
    assert [r["text"] for r in comments[0]["replies"]["data"]] == ["Check your DMs", "again"]
    single = call(graph, "GET", "/v21.0/17865799348089039", params={"fields": "id,text,media{id}"}).json()
    assert single == {"id": "17865799348089039", "text": "In blue?", "media": {"id": "17918195224117851"}}
    assert [p["kind"] for p in graph.posted()] == ["ig_reply", "ig_reply"]


def test_instagram_cannot_reply_to_hidden_comment(graph: MetaGraphEmulator) -> None:
    seed_ig(graph)
    call(graph, "POST", "/v21.0/17865799348089039", params={"hide": "true"})
    response = call(graph, "POST", "/v21.0/17865799348089039/replies", params={"message": "hi"})
    assert response.status_code == 400
    assert error(response)["code"] == 100


def test_instagram_media_listing(graph: MetaGraphEmulator) -> None:
    seed_ig(graph)
    graph.add_ig_media("17900000000000002", T0, "Red shoes", permalink="https://instagram.example/p/2")
    params = {"fields": "id,caption,timestamp,permalink,comments_count", "limit": 1}
    first = call(graph, "GET", f"/v21.0/{IG}/media", params=params).json()
    assert first["data"] == [
        {
            "id": "17900000000000002",
            "caption": "Red shoes",
            "timestamp": "2025-03-17T12:00:00+0000",
            "permalink": "https://instagram.example/p/2",
            "comments_count": 0,
        }
    ]
    second = requests.get(
        first["paging"]["next"], headers={"Authorization": "Bearer EAAG-page-token"}, timeout=10
    )
    assert second.json()["data"][0]["comments_count"] == 1
    assert "next" not in second.json()["paging"]


def test_mentions_both_forms_and_reply(graph: MetaGraphEmulator) -> None:
    graph.add_mentioned_media(
        "17887498072083520", "Love @acme", T0, "fan.page", permalink="https://ig.example/p/m"
    )
    graph.add_mentioned_comment("17894227972186120", "@acme help!", T0, "jane.doe", "17887498072083520", 3)
    fields = "id,text,timestamp,username,like_count,media{id,permalink,username}"
    edge = call(
        graph,
        "GET",
        f"/v21.0/{IG}/mentioned_comment",
        params={"comment_id": "17894227972186120", "fields": fields},
    ).json()
    expanded = call(
        graph,
        "GET",
        f"/v21.0/{IG}",
        params={"fields": f"mentioned_comment.comment_id(17894227972186120){{{fields}}}"},
    ).json()
    assert expanded == {"mentioned_comment": edge, "id": IG}
    assert edge == {
        "id": "17894227972186120",
        "text": "@acme help!",
        "timestamp": "2025-03-17T12:00:00+0000",
        "username": "jane.doe",
        "like_count": 3,
        "media": {"id": "17887498072083520", "permalink": "https://ig.example/p/m", "username": "fan.page"},
    }
    media_fields = "caption,timestamp,username,permalink,media_type,id,comments_count,like_count"
    media = call(
        graph,
        "GET",
        f"/v21.0/{IG}/mentioned_media",
        params={"media_id": "17887498072083520", "fields": media_fields},
    ).json()
    assert media["caption"] == "Love @acme" and media["media_type"] == "IMAGE"
    form = f"mentioned_media.media_id(17887498072083520){{{media_fields}}}"
    assert call(graph, "GET", f"/v21.0/{IG}", params={"fields": form}).json() == {
        "mentioned_media": media,
        "id": IG,
    }
    unknown = error(
        call(graph, "GET", f"/v21.0/{IG}", params={"fields": "mentioned_comment.comment_id(1){id}"})
    )
    assert (unknown["code"], unknown["error_subcode"]) == (100, 33)
    reply = call(
        graph,
        "POST",
        f"/v21.0/{IG}/mentions",
        params={"media_id": "17887498072083520", "comment_id": "17894227972186120", "message": "DM us"},
    )
    assert reply.status_code == 200 and reply.json()["id"]
    caption = call(
        graph, "POST", f"/v21.0/{IG}/mentions", data={"media_id": "17887498072083520", "message": "Thx"}
    )
    assert caption.status_code == 200
    assert [(p["kind"], p["target"]) for p in graph.posted()] == [
        ("ig_mention_reply", "17894227972186120"),
        ("ig_mention_reply", "17887498072083520"),
    ]


def test_business_discovery(graph: MetaGraphEmulator) -> None:
    graph.add_ig_business_account("bluebottle", 267788, 1205)
    fields = "business_discovery.username(bluebottle){followers_count,media_count,username,name}"
    body = call(graph, "GET", f"/v21.0/{IG}", params={"fields": fields}).json()
    assert body["id"] == IG
    found = body["business_discovery"]
    assert (found["followers_count"], found["media_count"], found["username"]) == (267788, 1205, "bluebottle")
    assert found["id"]
    missing = call(graph, "GET", f"/v21.0/{IG}", params={"fields": "business_discovery.username(nobody){id}"})
    assert missing.status_code == 400
    assert (error(missing)["code"], error(missing)["error_subcode"]) == (110, 2207013)


# -- messaging ------------------------------------------------------------------------------------------


def send(graph: MetaGraphEmulator, body: dict[str, Any], owner: str = PAGE) -> requests.Response:
    return call(graph, "POST", f"/v21.0/{owner}/messages", json=body)


def dm(user: str, messaging_type: str | None = "RESPONSE", tag: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"recipient": {"id": user}, "message": {"text": "We're on it."}}
    if messaging_type:
        body["messaging_type"] = messaging_type
    if tag:
        body["tag"] = tag
    return body


def test_send_api_24_hour_window(graph: MetaGraphEmulator, clock: Clock) -> None:
    graph.user_message("messenger", "psid-1", T0 - timedelta(hours=23))
    response = send(graph, dm("psid-1"))
    assert response.status_code == 200
    assert response.json()["recipient_id"] == "psid-1"
    assert response.json()["message_id"].startswith("m_")
    buc = json.loads(response.headers["X-Business-Use-Case-Usage"])
    assert buc[PAGE][0]["type"] == "messenger"
    clock.advance(hours=2)
    late = send(graph, dm("psid-1", "UPDATE"))
    assert late.status_code == 400
    assert (error(late)["code"], error(late)["error_subcode"]) == (10, 2018278)
    assert error(late)["message"] == "(#10) This message is sent outside of allowed window."
    assert [(p["kind"], p["messaging_type"]) for p in graph.posted()] == [("message", "RESPONSE")]


def test_send_api_parameter_errors(graph: MetaGraphEmulator) -> None:
    graph.user_message("messenger", "psid-1", T0)
    assert error(send(graph, dm("psid-1", messaging_type=None)))["code"] == 100
    assert error(send(graph, dm("psid-1", messaging_type="PROMO")))["code"] == 100
    unknown = error(send(graph, dm("stranger")))
    assert (unknown["code"], unknown["error_subcode"]) == (100, 2018001)
    long = {"recipient": {"id": "psid-1"}, "messaging_type": "RESPONSE", "message": {"text": "x" * 2001}}
    assert error(send(graph, long))["message"] == (
        "(#100) Length of param message[text] must be less than or equal to 2000"
    )
    assert error(send(graph, dm("psid-1", "MESSAGE_TAG")))["code"] == 100  # tag missing
    # JSON-encoded strings in a form, sent to /me/messages
    form = {
        "recipient": json.dumps({"id": "psid-1"}),
        "message": json.dumps({"text": "hi"}),
        "messaging_type": "RESPONSE",
    }
    assert call(graph, "POST", "/v21.0/me/messages", data=form).status_code == 200


def test_human_agent_tag_without_the_feature(graph: MetaGraphEmulator, clock: Clock) -> None:
    graph.user_message("messenger", "psid-1", T0)
    clock.advance(days=2)
    response = send(graph, dm("psid-1", "MESSAGE_TAG", "HUMAN_AGENT"))
    assert response.status_code == 403
    body = error(response)
    assert (body["code"], body["error_subcode"]) == (200, 2018065)


def test_human_agent_tag_with_the_feature(clock: Clock) -> None:
    graph = _start(clock, human_agent=True)
    try:
        graph.user_message("instagram", "igsid-1", T0)
        clock.advance(days=6)
        ok = send(graph, dm("igsid-1", "MESSAGE_TAG", "HUMAN_AGENT"), owner=IG)
        assert ok.status_code == 200
        clock.advance(days=2)
        late = send(graph, dm("igsid-1", "MESSAGE_TAG", "HUMAN_AGENT"), owner=IG)
        assert (error(late)["code"], error(late)["error_subcode"]) == (10, 2018278)
        assert graph.posted()[0]["tag"] == "HUMAN_AGENT"
        # a Messenger PSID is not reachable through the Instagram account's endpoint
        graph.user_message("messenger", "psid-9", clock())
        assert error(send(graph, dm("psid-9"), owner=IG))["error_subcode"] == 2018001
    finally:
        graph.stop()


def test_one_private_reply_per_comment_within_7_days(graph: MetaGraphEmulator, clock: Clock) -> None:
    seed_post(graph)
    body = {"recipient": {"comment_id": COMMENT}, "message": {"text": "Hi Susie, your order number?"}}
    first = send(graph, body)
    assert first.status_code == 200
    assert first.json()["recipient_id"] == "3450429531722233"
    again = error(send(graph, body))
    assert (again["code"], again["error_subcode"]) == (100, 2018108)
    graph.add_comment(POST, "407298303721936_7", "77", "Bob", "late", T0)
    clock.advance(days=7, seconds=1)
    late = error(send(graph, {"recipient": {"comment_id": "407298303721936_7"}, "message": {"text": "hi"}}))
    assert (late["code"], late["error_subcode"]) == (10, 2018278)
    assert [(p["kind"], p["target"]) for p in graph.posted()] == [("private_reply", COMMENT)]


def test_private_reply_to_instagram_comment_and_visitor_post(graph: MetaGraphEmulator) -> None:
    seed_ig(graph)
    body = {"recipient": {"comment_id": "17865799348089039"}, "message": {"text": "Hi! Details here."}}
    response = send(graph, body, owner=IG)
    assert response.json()["recipient_id"] == "1234"
    assert [m.text for m in graph.conversation_messages("instagram", "1234")] == ["Hi! Details here."]
    graph.add_post(f"{PAGE}_9", T0, "Is the shop open?", from_id="42", from_name="Vic")
    visitor = send(graph, {"recipient": {"post_id": f"{PAGE}_9"}, "message": {"text": "Yes!"}})
    assert visitor.json()["recipient_id"] == "42"
    assert (
        send(graph, {"recipient": {"post_id": f"{PAGE}_9"}, "message": {"text": "Yes!"}}).status_code == 400
    )


def test_conversations_show_what_was_sent(graph: MetaGraphEmulator, clock: Clock) -> None:
    graph.user_message("messenger", "psid-1", T0, text="Where is my order?")
    clock.advance(minutes=3)
    sent = send(graph, dm("psid-1")).json()["message_id"]
    params = {
        "platform": "messenger",
        "user_id": "psid-1",
        "fields": "messages{id,message,from,created_time}",
    }
    data = call(graph, "GET", f"/v21.0/{PAGE}/conversations", params=params).json()["data"]
    assert len(data) == 1 and data[0]["id"].startswith("t_")
    messages = data[0]["messages"]["data"]
    assert messages[0] == {
        "id": sent,
        "message": "We're on it.",
        "from": {"id": PAGE, "name": "Acme"},
        "created_time": "2025-03-17T12:03:00+0000",
    }
    assert messages[1]["from"] == {"id": "psid-1"}
    other = call(graph, "GET", f"/v21.0/{PAGE}/conversations", params={**params, "user_id": "psid-2"}).json()
    assert other == {"data": []}
    instagram = call(graph, "GET", f"/v21.0/{PAGE}/conversations", params={**params, "platform": "instagram"})
    assert instagram.json() == {"data": []}


# -- limits and faults ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (4, "(#4) Application request limit reached"),
        (32, "(#32) Page request limit reached"),
        (80002, "(#80002)"),
    ],
)
def test_throttle_next(graph: MetaGraphEmulator, code: int, message: str) -> None:
    graph.throttle_next(2, code=code, minutes_to_regain=7)
    for _ in range(2):
        response = call(graph, "GET", f"/v21.0/{PAGE}")
        assert response.status_code == 400
        assert error(response)["code"] == code
        assert error(response)["message"].startswith(message)
        assert "Retry-After" not in response.headers
        assert json.loads(response.headers["X-App-Usage"])["call_count"] == 100
        usage = json.loads(response.headers["X-Business-Use-Case-Usage"])[PAGE][0]
        assert (usage["call_count"], usage["estimated_time_to_regain_access"]) == (100, 7)
    assert call(graph, "GET", f"/v21.0/{PAGE}").status_code == 200


def test_page_call_limit_rolls_over_an_hour(clock: Clock) -> None:
    graph = _start(clock, page_call_limit=3)
    try:
        for _ in range(3):
            assert call(graph, "GET", f"/v21.0/{PAGE}").status_code == 200
            clock.advance(minutes=10)
        limited = call(graph, "GET", f"/v21.0/{PAGE}")
        assert limited.status_code == 400
        assert error(limited)["code"] == 32
        usage = json.loads(limited.headers["X-Business-Use-Case-Usage"])[PAGE][0]
        assert usage["call_count"] == 100
        assert usage["estimated_time_to_regain_access"] == 30  # the first call leaves the window at T0+60min
        clock.advance(minutes=30)
        assert call(graph, "GET", f"/v21.0/{PAGE}").status_code == 200
    finally:
        graph.stop()


def test_fail_next_and_drop_connection(graph: MetaGraphEmulator) -> None:
    graph.fail_next(1, 500, path_contains="/posts")
    failed = call(graph, "GET", f"/v21.0/{PAGE}/posts")
    assert failed.status_code == 500
    assert error(failed)["code"] == 2
    assert call(graph, "GET", f"/v21.0/{PAGE}/posts").status_code == 200
    graph.fail_next(1, 400, body={"error": {"message": "custom", "code": 1}})
    assert call(graph, "GET", f"/v21.0/{PAGE}").json() == {"error": {"message": "custom", "code": 1}}
    graph.drop_connection_next(1)
    with pytest.raises(requests.ConnectionError):
        call(graph, "GET", f"/v21.0/{PAGE}")
    assert call(graph, "GET", f"/v21.0/{PAGE}").status_code == 200
    assert len(graph.requests_to("/posts", method="GET")) == 2
    assert graph.requests_to("/posts", method="POST") == []
    graph.reset_log()
    assert graph.request_log == []
