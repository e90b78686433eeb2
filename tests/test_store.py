"""The store on SQLite and PostgreSQL: atomic ingest, leases, retries, dead letters, replies."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import func, select, update

from connector.model import Author, InboundBatch, Interaction, Removal, StatusChange, utcnow
from connector.schema import audit_log, interactions, outbox, raw_events
from connector.store import JOB_PROCESS, JOB_SYNC, Store, backoff_delay


def make_interaction(
    external_id: str, text: str = "hola", from_brand: bool = False, thread: str = "t1"
) -> Interaction:
    return Interaction(
        platform="facebook",
        kind="comment",
        external_id=external_id,
        thread_key=f"facebook:page:{thread}",
        brand_account_id="page",
        author=Author("facebook", "page" if from_brand else "u1", handle="ana"),
        text=text,
        created_at=utcnow(),
        from_brand=from_brand,
    )


def count(store: Store, table: object) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_ingest_writes_raw_event_interaction_and_job_together(any_store: Store) -> None:
    result = any_store.ingest(
        "meta",
        b"{}",
        {"X-Hub-Signature-256": "x", "Authorization": "secret"},
        InboundBatch(interactions=(make_interaction("c1"),)),
    )
    assert (result.new, result.duplicates) == (1, 0)
    assert count(any_store, raw_events) == count(any_store, interactions) == count(any_store, outbox) == 1
    with any_store.engine.connect() as conn:
        headers = conn.execute(select(raw_events.c.headers)).scalar_one()
    assert "authorization" not in headers


def test_redelivery_is_stored_raw_but_not_processed_twice(any_store: Store) -> None:
    batch = InboundBatch(interactions=(make_interaction("c1"),))
    any_store.ingest("meta", b"{}", {}, batch)
    second = any_store.ingest("meta", b"{}", {}, batch)
    assert (second.new, second.duplicates) == (0, 1)
    assert count(any_store, interactions) == 1
    assert count(any_store, outbox) == 1


def test_delivery_id_dedupes_the_whole_delivery(any_store: Store) -> None:
    batch = InboundBatch(interactions=(make_interaction("c1"),))
    any_store.ingest("generic:x", b"{}", {}, batch, delivery_id="msg_1")
    again = any_store.ingest("generic:x", b"{}", {}, batch, delivery_id="msg_1")
    assert again.duplicate_delivery
    assert count(any_store, raw_events) == 1


def test_brand_own_interactions_are_recorded_without_a_job(any_store: Store) -> None:
    result = any_store.ingest(
        "meta", b"{}", {}, InboundBatch(interactions=(make_interaction("c9", from_brand=True),))
    )
    assert result.from_brand == 1
    assert count(any_store, interactions) == 1
    assert count(any_store, outbox) == 0


def test_edit_updates_text_and_keeps_the_old_one_in_the_audit_log(any_store: Store) -> None:
    any_store.ingest("meta", b"{}", {}, InboundBatch(interactions=(make_interaction("c1", "old"),)))
    result = any_store.ingest("meta", b"{}", {}, InboundBatch(edits=(make_interaction("c1", "new"),)))
    assert result.edited == 1
    with any_store.engine.connect() as conn:
        assert conn.execute(select(interactions.c.text)).scalar_one() == "new"
        detail = conn.execute(select(audit_log.c.detail)).scalar_one()
    assert detail == {"old_text": "old", "new_text": "new"}


def test_edit_of_an_unseen_interaction_is_stored_as_new(any_store: Store) -> None:
    result = any_store.ingest("meta", b"{}", {}, InboundBatch(edits=(make_interaction("c7", "edited"),)))
    assert result.edited == 1
    assert count(any_store, outbox) == 1


def test_removal_marks_the_interaction_removed(any_store: Store) -> None:
    any_store.ingest("meta", b"{}", {}, InboundBatch(interactions=(make_interaction("c1"),)))
    result = any_store.ingest(
        "meta", b"{}", {}, InboundBatch(removals=(Removal("facebook", "c1", utcnow()),))
    )
    assert result.removed == 1
    with any_store.engine.connect() as conn:
        assert conn.execute(select(interactions.c.removed)).scalar_one() is True


def test_claims_lease_jobs_once_and_reclaim_expired_leases(any_store: Store) -> None:
    any_store.ingest(
        "meta", b"{}", {}, InboundBatch(interactions=(make_interaction("c1"), make_interaction("c2")))
    )
    first = any_store.claim_jobs([JOB_PROCESS], 10, 60, "w1")
    assert [job.attempts for job in first] == [1, 1]
    assert any_store.claim_jobs([JOB_PROCESS], 10, 60, "w2") == []
    with any_store.engine.begin() as conn:
        conn.execute(update(outbox).values(lease_until=utcnow() - timedelta(seconds=1)))
    taken_over = any_store.claim_jobs([JOB_PROCESS], 10, 60, "w2")
    assert [job.attempts for job in taken_over] == [2, 2]
    any_store.complete_jobs(first)  # the old owner's completion no longer counts
    assert any_store.counts()["pending_jobs"] == 2
    any_store.complete_jobs(taken_over)
    assert any_store.counts()["pending_jobs"] == 0


def test_concurrent_claims_never_share_a_job(any_store: Store) -> None:
    items = tuple(make_interaction(f"c{i}", thread=f"t{i}") for i in range(60))
    any_store.ingest("meta", b"{}", {}, InboundBatch(interactions=items))
    claimed: list[list[int]] = []
    lock = threading.Lock()

    def worker(name: str) -> None:
        while jobs := any_store.claim_jobs([JOB_PROCESS], 7, 60, name):
            with lock:
                claimed.append([job.id for job in jobs])

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [job_id for batch in claimed for job_id in batch]
    assert len(ids) == len(set(ids)) == 60


def test_failures_retry_with_backoff_then_dead_letter_and_replay(any_store: Store) -> None:
    any_store.ingest("meta", b"{}", {}, InboundBatch(interactions=(make_interaction("c1"),)))
    for attempt in (1, 2):
        (job,) = any_store.claim_jobs([JOB_PROCESS], 1, 60, "w")
        assert job.attempts == attempt
        assert not any_store.fail_job(job, "boom", max_attempts=3, backoff_base=0.0001, backoff_max=0.0001)
        with any_store.engine.begin() as conn:
            conn.execute(update(outbox).values(next_attempt_at=utcnow()))
    (job,) = any_store.claim_jobs([JOB_PROCESS], 1, 60, "w")
    assert any_store.fail_job(job, "still boom", max_attempts=3, backoff_base=1, backoff_max=1)
    (dead,) = any_store.list_dead_letters()
    assert (dead.attempts, dead.error) == (3, "still boom")
    assert any_store.replay_dead_letters() == [dead.id]
    assert any_store.replay_dead_letters() == []  # replaying twice queues it once
    (again,) = any_store.claim_jobs([JOB_PROCESS], 5, 60, "w")
    assert again.attempts == 1


def test_retry_time_is_stored_in_the_database(any_store: Store) -> None:
    any_store.ingest("meta", b"{}", {}, InboundBatch(interactions=(make_interaction("c1"),)))
    (job,) = any_store.claim_jobs([JOB_PROCESS], 1, 60, "w")
    any_store.fail_job(job, "later", max_attempts=5, backoff_base=60, backoff_max=600)
    assert any_store.claim_jobs([JOB_PROCESS], 1, 60, "w") == []
    with any_store.engine.connect() as conn:
        due = conn.execute(select(outbox.c.next_attempt_at)).scalar_one()
    assert timedelta(seconds=29) < due - utcnow() <= timedelta(seconds=60)


def test_backoff_grows_and_is_capped() -> None:
    delays = [backoff_delay(n, 2, 100) for n in range(1, 12)]
    assert all(0 < d <= 100 for d in delays)
    assert 1 <= delays[0] <= 2
    assert delays[-1] >= 50


def test_status_change_is_recorded_once_and_queues_one_sync_job(any_store: Store) -> None:
    change = StatusChange("local", "7", "open", "resolved", "done", utcnow(), "evt-1")
    first = any_store.record_status_change("support", change)
    assert first is not None
    assert any_store.record_status_change("support", change) is None
    jobs = any_store.claim_jobs([JOB_SYNC], 10, 60, "w")
    assert [job.ref_id for job in jobs] == [first]


def test_a_reply_is_reserved_once_per_status_change(any_store: Store) -> None:
    change_id = any_store.record_status_change(
        "support", StatusChange("local", "7", "open", "resolved", None, utcnow(), "evt-1")
    )
    values = {
        "status_change_id": change_id,
        "desk": "support",
        "ticket_id": "7",
        "platform": "x",
        "in_reply_to": "1",
        "thread_key": "x:b:1",
        "text": "hi",
        "mode": "dry-run",
        "channel": "public",
    }
    reply = any_store.reserve_reply(values)
    any_store.mark_reply_posted(reply.id, "p-1")
    again = any_store.reserve_reply({**values, "text": "other"})
    assert (again.id, again.state, again.text, again.platform_reply_id) == (reply.id, "posted", "hi", "p-1")


def test_a_thread_already_finished_gets_no_second_sync_job_until_it_reopens(any_store: Store) -> None:
    any_store.save_link("support", "x:b:1", 1, "salesforce", "500A", "00001001", None)

    def change(event: str, status: str) -> int | None:
        return any_store.record_status_change(
            "support", StatusChange("salesforce", "500A", None, status, None, utcnow(), event)
        )

    def synced() -> list[int]:
        return [job.ref_id for job in any_store.claim_jobs([JOB_SYNC], 10, 60, "w")]

    resolved = change("outbound:1", "resolved")
    assert synced() == [resolved]
    assert change("outbound:2", "closed") is not None  # recorded for the audit trail…
    assert change("poll:500A:1", "closed") is not None
    assert synced() == []  # …but the customer is answered once
    change("outbound:3", "open")
    again = change("outbound:4", "closed")
    assert synced() == [again]


def test_connector_state_round_trips(any_store: Store) -> None:
    assert any_store.get_state("salesforce", "watermark") is None
    any_store.set_state("salesforce", "watermark", "2026-11-23T10:00:00Z")
    any_store.set_state("salesforce", "watermark", {"at": "2026-11-23T11:00:00Z"})
    assert any_store.get_state("salesforce", "watermark") == {"at": "2026-11-23T11:00:00Z"}
