"""Replies on Facebook, Instagram and Messenger through the Graph API emulator, end to end."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from connector.model import utcnow
from connector.store import Job
from connector.sync import sync_status_changes
from tests.conftest import IG_ACCOUNT_ID, META_PAGE_ID
from tests.emulators.meta_graph import MetaGraphEmulator
from tests.emulators.tls import make_tls
from tests.publish_support import (
    dm,
    fb_comment,
    ig_comment,
    ig_mention,
    make_loop,
    meta_settings,
    write_config,
)

POST = f"{META_PAGE_ID}_407298303721936"
COMMENT = "407298303721936_408074786977621"
CUSTOMER = "3450429531722233"
PSID = "6100000000000009"


@pytest.fixture
def graph(tmp_path: Path) -> Iterator[MetaGraphEmulator]:
    with MetaGraphEmulator(
        tls=make_tls(tmp_path), page_id=META_PAGE_ID, ig_user_id=IG_ACCOUNT_ID
    ) as emulator:
        yield emulator


def _seed_comment(graph: MetaGraphEmulator, text: str, age: timedelta = timedelta(hours=1)) -> None:
    created = utcnow() - age
    graph.add_post(POST, created - timedelta(hours=1), "New product launch")
    graph.add_comment(POST, COMMENT, CUSTOMER, "Susie Example", text, created)


def _posts(graph: MetaGraphEmulator, path: str) -> list[dict[str, object]]:
    return [r.body for r in graph.requests_to(path, method="POST")]


def test_a_resolved_facebook_comment_gets_one_public_reply_over_https(
    tmp_path: Path, graph: MetaGraphEmulator
) -> None:
    _seed_comment(graph, "My blender stopped working after two days")
    loop = make_loop(tmp_path, meta=meta_settings(graph))
    loop.meta(fb_comment(COMMENT, "My blender stopped working after two days", utcnow(), post_id=POST))
    loop.run()
    loop.resolve_all()
    (reply,) = loop.replies()
    assert reply.state == "posted" and reply.channel == "public"
    (request,) = graph.requests_to(f"/{COMMENT}/comments", method="POST")
    assert request.headers["authorization"] == f"Bearer {graph.page_token}"
    (posted,) = graph.posted()
    assert posted["kind"] == "comment_reply" and posted["target"] == COMMENT
    assert posted["text"] == reply.text and "resolved" in reply.text
    assert reply.platform_reply_id == posted["id"]
    loop.resolve_all()  # nothing left to resolve; a redelivered change would reuse the record
    assert len(graph.posted()) == 1


def test_a_redelivered_status_change_never_posts_twice(tmp_path: Path, graph: MetaGraphEmulator) -> None:
    _seed_comment(graph, "Where is my order?")
    loop = make_loop(tmp_path, meta=meta_settings(graph))
    loop.meta(fb_comment(COMMENT, "Where is my order?", utcnow(), post_id=POST))
    loop.run()
    loop.resolve_all()
    (reply,) = loop.replies()
    # The sync job runs again (a replay, a second worker): the reply record is reused.
    sync_status_changes(loop.runtime, [Job(0, "sync", reply.status_change_id, 1, "again")])
    assert len(graph.posted()) == 1


def test_a_crash_between_posting_and_recording_does_not_double_post(
    tmp_path: Path, graph: MetaGraphEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed_comment(graph, "The lid cracked")
    loop = make_loop(tmp_path, meta=meta_settings(graph))
    loop.meta(fb_comment(COMMENT, "The lid cracked", utcnow(), post_id=POST))
    loop.run()

    loop.resolve_all_crashing_after_posting(monkeypatch)
    (reply,) = loop.replies()
    assert reply.state == "sending" and len(graph.posted()) == 1
    loop.make_jobs_due()  # the dead worker's lease expires
    loop.run()
    (reply,) = loop.replies()
    assert reply.state == "posted" and reply.platform_reply_id == graph.posted()[0]["id"]
    assert len(graph.posted()) == 1
    assert len(graph.requests_to(f"/{COMMENT}/comments", method="GET")) == 1


def test_an_ambiguous_failure_is_checked_on_the_platform_before_posting_again(
    tmp_path: Path, graph: MetaGraphEmulator
) -> None:
    _seed_comment(graph, "Broken again")
    loop = make_loop(tmp_path, meta=meta_settings(graph))
    loop.meta(fb_comment(COMMENT, "Broken again", utcnow(), post_id=POST))
    loop.run()
    graph.fail_next(1, 500, path_contains=f"/{COMMENT}/comments")
    loop.resolve_all()
    loop.make_jobs_due()
    loop.run()
    (reply,) = loop.replies()
    assert reply.state == "posted" and len(graph.posted()) == 1
    methods = [r.method for r in graph.requests_to(f"/{COMMENT}/comments")]
    assert methods == ["POST", "GET", "POST"]  # failed create, look on the platform, create


def test_personal_data_in_a_recent_comment_gets_metas_private_reply(
    tmp_path: Path, graph: MetaGraphEmulator
) -> None:
    text = "Still no refund, my phone is 612 345 678"
    _seed_comment(graph, text)
    loop = make_loop(tmp_path, meta=meta_settings(graph))
    loop.meta(fb_comment(COMMENT, text, utcnow(), post_id=POST))
    loop.run()
    loop.resolve_all()
    (reply,) = loop.replies()
    assert reply.state == "posted" and reply.channel == "private_reply"
    (request,) = graph.requests_to(f"/{META_PAGE_ID}/messages", method="POST")
    assert request.body["recipient"] == {"comment_id": COMMENT}
    assert request.body["message"]["text"] == reply.text and "612" not in reply.text
    assert graph.requests_to(f"/{COMMENT}/comments", method="POST") == []


def test_an_old_comment_with_personal_data_gets_a_public_invitation_instead(
    tmp_path: Path, graph: MetaGraphEmulator
) -> None:
    text = "Still no refund, write me at susie@example.com"
    _seed_comment(graph, text, age=timedelta(days=8))
    loop = make_loop(tmp_path, meta=meta_settings(graph))
    loop.meta(fb_comment(COMMENT, text, utcnow() - timedelta(days=8), post_id=POST))
    loop.run()
    loop.resolve_all()
    (reply,) = loop.replies()
    assert reply.state == "posted" and reply.channel == "public"
    assert "privately" in reply.text and "susie@" not in reply.text
    assert graph.requests_to("/messages", method="POST") == []
    assert len(graph.requests_to(f"/{COMMENT}/comments", method="POST")) == 1


def test_a_refused_private_reply_falls_back_to_the_public_invitation(
    tmp_path: Path, graph: MetaGraphEmulator
) -> None:
    text = "My card 4111 1111 1111 1111 was charged twice"
    _seed_comment(graph, text)
    loop = make_loop(tmp_path, meta=meta_settings(graph))
    loop.meta(fb_comment(COMMENT, text, utcnow(), post_id=POST))
    loop.run()
    graph.fail_next(
        1,
        400,
        {
            "error": {
                "message": "(#10) This message is sent outside of allowed window.",
                "type": "OAuthException",
                "code": 10,
                "error_subcode": 2018278,
                "fbtrace_id": "x",
            }
        },
        path_contains="/messages",
    )
    loop.resolve_all()
    (reply,) = loop.replies()
    assert reply.state == "posted" and reply.channel == "public" and "privately" in reply.text
    assert len(graph.requests_to(f"/{COMMENT}/comments", method="POST")) == 1


def test_a_messenger_dm_inside_24_hours_gets_a_response(tmp_path: Path, graph: MetaGraphEmulator) -> None:
    at = utcnow() - timedelta(hours=2)
    graph.user_message("messenger", PSID, at, "Hi, my order hasn't arrived")
    loop = make_loop(tmp_path, meta=meta_settings(graph))
    loop.meta(dm("page", META_PAGE_ID, "m_1", "Hi, my order hasn't arrived", PSID, at))
    loop.run()
    loop.resolve_all()
    (reply,) = loop.replies()
    assert reply.state == "posted" and reply.channel == "private"
    (request,) = graph.requests_to(f"/{META_PAGE_ID}/messages", method="POST")
    assert request.body["recipient"] == {"id": PSID} and request.body["messaging_type"] == "RESPONSE"


def test_a_dm_after_24_hours_uses_the_human_agent_tag_where_the_page_has_it(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    at = utcnow() - timedelta(hours=30)
    with MetaGraphEmulator(page_id=META_PAGE_ID, ig_user_id=IG_ACCOUNT_ID, human_agent=True) as graph:
        graph.user_message("messenger", PSID, at, "Any news?")
        loop = make_loop(tmp_path, meta=meta_settings(graph, human_agent=True))
        loop.meta(dm("page", META_PAGE_ID, "m_2", "Any news?", PSID, at))
        loop.run()
        loop.resolve_all()
        (reply,) = loop.replies()
        assert reply.state == "posted"
        (request,) = graph.requests_to("/messages", method="POST")
        assert request.body["messaging_type"] == "MESSAGE_TAG" and request.body["tag"] == "HUMAN_AGENT"


def test_a_dm_whose_window_closed_is_flagged_on_the_ticket_not_retried(
    tmp_path: Path, graph: MetaGraphEmulator
) -> None:
    at = utcnow() - timedelta(hours=30)
    graph.user_message("messenger", PSID, at, "Any news?")
    loop = make_loop(tmp_path, meta=meta_settings(graph))
    loop.meta(dm("page", META_PAGE_ID, "m_3", "Any news?", PSID, at))
    loop.run()
    loop.resolve_all()
    (reply,) = loop.replies()
    assert reply.state == "window_closed" and "24 h" in (reply.detail or "")
    assert graph.requests_to("/messages", method="POST") == []
    (ticket,) = loop.tickets()
    assert "window closed" in ticket["reply_flag"]
    assert loop.store.list_dead_letters() == []


def test_the_platform_saying_the_window_closed_is_an_outcome_too(
    tmp_path: Path, graph: MetaGraphEmulator
) -> None:
    at = utcnow() - timedelta(hours=23, minutes=59, seconds=58)
    graph.user_message("messenger", PSID, utcnow() - timedelta(hours=25), "Hello?")  # Meta saw it earlier
    loop = make_loop(tmp_path, meta=meta_settings(graph))
    loop.meta(dm("page", META_PAGE_ID, "m_4", "Hello?", PSID, at))
    loop.run()
    loop.resolve_all()
    (reply,) = loop.replies()
    assert reply.state == "window_closed"
    assert len(graph.requests_to("/messages", method="POST")) == 1


def test_an_instagram_comment_gets_a_reply_on_the_replies_edge(
    tmp_path: Path, graph: MetaGraphEmulator
) -> None:
    graph.add_ig_media("17918195224117851", utcnow() - timedelta(days=1), "Spring collection")
    graph.add_ig_comment(
        "17918195224117851",
        "17865799348089039",
        "1234567890123456",
        "jane.doe",
        "My order arrived broken",
        utcnow(),
    )
    loop = make_loop(tmp_path, meta=meta_settings(graph))
    loop.meta(ig_comment("17865799348089039", "My order arrived broken", "17918195224117851"))
    loop.run()
    loop.resolve_all()
    (reply,) = loop.replies()
    assert reply.state == "posted"
    assert len(graph.requests_to("/17865799348089039/replies", method="POST")) == 1
    assert graph.posted()[0]["text"] == reply.text


def test_an_instagram_dm_goes_through_the_pages_send_api(tmp_path: Path, graph: MetaGraphEmulator) -> None:
    igsid = "1780000000000042"
    at = utcnow() - timedelta(minutes=5)
    graph.user_message("instagram", igsid, at, "Do you ship to Canarias?")
    loop = make_loop(tmp_path, meta=meta_settings(graph))
    loop.meta(dm("instagram", IG_ACCOUNT_ID, "aWdfZAG1", "Do you ship to Canarias?", igsid, at))
    loop.run()
    loop.resolve_all()
    (reply,) = loop.replies()
    assert reply.state == "posted" and reply.channel == "private"
    (request,) = graph.requests_to(f"/{META_PAGE_ID}/messages", method="POST")
    assert request.body["recipient"] == {"id": igsid}


def test_an_instagram_mention_is_read_before_triage_and_answered_on_the_mentions_edge(
    tmp_path: Path, graph: MetaGraphEmulator
) -> None:
    graph.add_mentioned_comment(
        "17894227972186120", "@acme the zipper broke on day one", utcnow(), "maria.l", "17887498072083520"
    )
    graph.add_ig_business_account("maria.l", 120_000)
    loop = make_loop(tmp_path, meta=meta_settings(graph))
    loop.meta(ig_mention("17887498072083520", "17894227972186120"))
    loop.run()
    (ticket,) = loop.tickets()
    assert "120K followers" in ticket["explanation"] or "120" in ticket["explanation"]
    stored = loop.store.interaction_by_external("instagram", "17894227972186120")
    assert stored is not None and stored.text == "@acme the zipper broke on day one"
    assert stored.author.handle == "maria.l" and stored.author.followers_count == 120_000
    loop.resolve_all()
    (reply,) = loop.replies()
    assert reply.state == "posted"
    (request,) = graph.requests_to(f"/{IG_ACCOUNT_ID}/mentions", method="POST")
    params = {**request.query, **(request.body or {})}
    assert params["media_id"] == "17887498072083520" and params["comment_id"] == "17894227972186120"


def test_throttling_waits_for_metas_estimate_and_never_posts_twice(
    tmp_path: Path, graph: MetaGraphEmulator
) -> None:
    _seed_comment(graph, "Nobody answers")
    loop = make_loop(tmp_path, meta=meta_settings(graph))
    loop.meta(fb_comment(COMMENT, "Nobody answers", utcnow(), post_id=POST))
    loop.run()
    graph.throttle_next(1, code=32, minutes_to_regain=7)
    loop.resolve_all()
    (reply,) = loop.replies()
    assert reply.state == "intent" and graph.posted() == []
    (retry_at,) = loop.pending_retry_at()
    assert timedelta(minutes=6) < retry_at - utcnow() <= timedelta(minutes=7)
    loop.run()  # not due yet: nothing is sent
    assert len(graph.requests_to("/comments", method="POST")) == 1
    from connector.publish.graph_api import reset_pauses

    reset_pauses()  # Meta's estimate has passed
    loop.make_jobs_due()
    loop.run()
    assert loop.replies()[0].state == "posted" and len(graph.posted()) == 1


def test_an_agent_reply_with_personal_data_is_blocked_before_any_call(
    tmp_path: Path, graph: MetaGraphEmulator
) -> None:
    _seed_comment(graph, "Refund?")
    loop = make_loop(tmp_path, meta=meta_settings(graph))
    loop.meta(fb_comment(COMMENT, "Refund?", utcnow(), post_id=POST))
    loop.run()
    loop.resolve_all(reply="Done! We refunded card 4111 1111 1111 1111, call 612 345 678")
    (reply,) = loop.replies()
    assert reply.state == "blocked" and graph.requests_to("/comments", method="POST") == []
    (ticket,) = loop.tickets()
    assert "blocked" in ticket["reply_flag"]


def test_comments_with_personal_data_are_hidden_when_enabled(
    tmp_path: Path, graph: MetaGraphEmulator
) -> None:
    text = "Order 5512 never came, my email is susie@example.com"
    _seed_comment(graph, text)
    loop = make_loop(tmp_path, meta=meta_settings(graph, hide_comments_with_pii=True))
    loop.meta(fb_comment(COMMENT, text, utcnow(), post_id=POST))
    loop.run()
    assert graph.hidden() == {COMMENT: True}
    actions = [entry["action"] for entry in loop.store.audit_entries(f"facebook:{COMMENT}")]
    assert "comment.hidden" in actions


def test_approve_mode_waits_for_a_human(tmp_path: Path, graph: MetaGraphEmulator) -> None:
    from click.testing import CliRunner

    from connector.cli import main

    _seed_comment(graph, "Is this fixed?")
    loop = make_loop(tmp_path, meta=meta_settings(graph), mode="approve")
    loop.meta(fb_comment(COMMENT, "Is this fixed?", utcnow(), post_id=POST))
    loop.run()
    loop.resolve_all()
    (reply,) = loop.replies()
    assert reply.state == "awaiting_approval" and graph.posted() == []
    config_file = write_config(loop.config, tmp_path / "config.yaml")
    result = CliRunner().invoke(main, ["replies", "approve", str(reply.id), "--config", str(config_file)])
    assert result.exit_code == 0, result.output
    assert "now posted" in result.output
    assert len(graph.posted()) == 1
    again = CliRunner().invoke(main, ["replies", "approve", str(reply.id), "--config", str(config_file)])
    assert again.exit_code != 0 and "only awaiting_approval" in again.output
    assert len(graph.posted()) == 1


def test_an_instagram_comment_with_personal_data_is_hidden_with_hide(
    tmp_path: Path, graph: MetaGraphEmulator
) -> None:
    graph.add_ig_media("17918195224117851", utcnow() - timedelta(days=1))
    text = "Call me on 612 345 678, my order never came"
    graph.add_ig_comment(
        "17918195224117851", "17865799348089040", "1234567890123456", "jane.doe", text, utcnow()
    )
    loop = make_loop(tmp_path, meta=meta_settings(graph, hide_comments_with_pii=True))
    loop.meta(ig_comment("17865799348089040", text, "17918195224117851"))
    loop.run()
    (request,) = graph.requests_to("/17865799348089040", method="POST")
    assert request.query.get("hide") == "true"
    assert graph.hidden() == {"17865799348089040": True}


def test_hiding_in_dry_run_is_only_audited(tmp_path: Path, graph: MetaGraphEmulator) -> None:
    text = "My email is susie@example.com and nobody answers"
    _seed_comment(graph, text)
    loop = make_loop(tmp_path, meta=meta_settings(graph, hide_comments_with_pii=True), mode="dry-run")
    loop.meta(fb_comment(COMMENT, text, utcnow(), post_id=POST))
    loop.run()
    assert graph.hidden() == {}
    actions = [entry["action"] for entry in loop.store.audit_entries(f"facebook:{COMMENT}")]
    assert "comment.hide.dry-run" in actions


def test_a_caption_mention_is_read_with_the_field_expansion_when_the_edge_is_refused(
    tmp_path: Path, graph: MetaGraphEmulator
) -> None:
    graph.add_mentioned_media(
        "17887498072083999", "Loving my new @acme boots, but the sole came off", utcnow(), "ana"
    )
    graph.fail_next(
        1,
        400,
        {"error": {"message": "(#100) Unknown path components", "type": "OAuthException", "code": 100}},
        path_contains="/mentioned_media",
    )
    loop = make_loop(tmp_path, meta=meta_settings(graph))
    loop.meta(ig_mention("17887498072083999", None))
    loop.run()
    stored = loop.store.interaction_by_external("instagram", "17887498072083999")
    assert stored is not None and "sole came off" in stored.text and stored.author.handle == "ana"
    (expansion,) = [
        r
        for r in graph.requests_to(f"/{IG_ACCOUNT_ID}", method="GET")
        if "fields" in r.query and r.query["fields"].startswith("mentioned_media.media_id(")
    ]
    assert expansion.status == 200
    (ticket,) = loop.tickets()
    assert ticket["status"] == "open"


def test_a_messenger_dm_crash_is_checked_in_the_conversation_before_sending_again(
    tmp_path: Path, graph: MetaGraphEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = utcnow() - timedelta(minutes=10)
    graph.user_message("messenger", PSID, at, "Refund please")
    loop = make_loop(tmp_path, meta=meta_settings(graph))
    loop.meta(dm("page", META_PAGE_ID, "m_9", "Refund please", PSID, at))
    loop.run()

    loop.resolve_all_crashing_after_posting(monkeypatch)
    loop.make_jobs_due()
    loop.run()
    (reply,) = loop.replies()
    sent = [p for p in graph.posted() if p["kind"] == "message"]
    assert reply.state == "posted" and len(sent) == 1 and reply.platform_reply_id == sent[0]["id"]
    assert len(graph.requests_to(f"/{META_PAGE_ID}/conversations", method="GET")) == 1


CRASHING_WORKER = """
import os, sys
from connector.config import load_config
from connector.dispatcher import Dispatcher
from connector.runtime import Runtime
from connector.store import Store

def die(self, reply_id, platform_reply_id):
    os._exit(9)  # the process dies: no cleanup, no rollback handlers, no finally blocks

Store.mark_reply_posted = die
Dispatcher(Runtime(load_config(sys.argv[1]))).run_until_idle()
"""


def test_a_worker_process_killed_after_posting_leaves_a_reply_that_is_not_posted_again(
    tmp_path: Path, graph: MetaGraphEmulator
) -> None:
    import subprocess
    import sys

    from connector.crm.local import resolve_ticket

    _seed_comment(graph, "Still waiting for the technician")
    loop = make_loop(tmp_path, meta=meta_settings(graph))
    loop.meta(fb_comment(COMMENT, "Still waiting for the technician", utcnow(), post_id=POST))
    loop.run()
    (ticket,) = loop.tickets()
    resolve_ticket(loop.store, ticket["id"], "Technician visit booked")  # queued, not yet sent
    config_file = write_config(loop.config, tmp_path / "config.yaml")
    worker = subprocess.run(
        [sys.executable, "-c", CRASHING_WORKER, str(config_file)], check=False, timeout=60
    )
    assert worker.returncode == 9
    assert len(graph.posted()) == 1 and loop.replies()[0].state == "sending"
    loop.make_jobs_due()  # the dead worker's lease has expired
    loop.run()
    (reply,) = loop.replies()
    assert reply.state == "posted" and reply.platform_reply_id == graph.posted()[0]["id"]
    assert len(graph.posted()) == 1
