"""Close the loop: a resolved or closed ticket gets exactly one reply on its social thread.

The reply is recorded before it is posted (intent) and after (platform id), so a crash
between the two, a redelivered status change or a retry never posts twice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from connector.model import Interaction, StatusChange
from connector.outcome import BatchOutcome
from connector.publish.base import PublishError
from connector.replies import ReplyBlockedError, choose_outcome, contains_pii, render_reply
from connector.runtime import Runtime
from connector.store import Job, Reply, ThreadLink

log = logging.getLogger("ventanilla.sync")
REPLY_STATUSES = frozenset({"resolved", "closed"})


def sync_status_changes(runtime: Runtime, jobs: Sequence[Job]) -> BatchOutcome:
    """Handle a batch of ``sync`` jobs."""
    outcome = BatchOutcome()
    for job in jobs:
        try:
            _sync_one(runtime, job)
        except PublishError as exc:
            outcome.fail([job], f"publish: {exc}")
            continue
        except LookupError as exc:
            outcome.fail([job], str(exc), permanent=True)
            continue
        outcome.done.append(job)
    return outcome


def _sync_one(runtime: Runtime, job: Job) -> None:
    store = runtime.store
    found = store.get_status_change(job.ref_id)
    if found is None:
        raise LookupError(f"status change {job.ref_id} is not in the store")
    desk, change = found
    if change.new_status not in REPLY_STATUSES:
        return
    link = store.link_for_ticket(change.system, change.ticket_id)
    if link is None:
        raise LookupError(f"{change.system} ticket {change.ticket_id} is not linked to any social thread")
    thread = store.thread_interactions(link.thread_key)
    if not thread:
        raise LookupError(f"thread {link.thread_key} has no customer interaction to answer")
    target = thread[-1]
    reply = _reserve(runtime, desk, job.ref_id, change, link, target)
    if reply.state != "intent":
        return  # already posted, or blocked: never a second attempt at the platform
    platform_id = runtime.publisher.publish(reply, target)
    store.mark_reply_posted(reply.id, platform_id)


def _reserve(
    runtime: Runtime, desk: str, change_id: int, change: StatusChange, link: ThreadLink, target: Interaction
) -> Reply:
    store = runtime.store
    channel = "private" if _thread_is_private(runtime, link.thread_key, target) else "public"
    base: dict[str, Any] = {
        "status_change_id": change_id,
        "desk": desk,
        "ticket_id": change.ticket_id,
        "platform": target.platform,
        "in_reply_to": target.external_id,
        "thread_key": link.thread_key,
        "mode": runtime.publisher.mode,
        "channel": channel,
    }
    try:
        text = _reply_text(runtime, desk, change, link, target, channel)
    except ReplyBlockedError as exc:
        reply = store.reserve_reply({**base, "text": f"[blocked: {exc}]"})
        if reply.state == "intent":
            store.mark_reply_state(reply.id, "blocked")
            store.audit_event(
                "sync", "reply.blocked", f"{change.system}:{change.ticket_id}", {"reason": str(exc)}
            )
            log.warning("reply for %s ticket %s blocked: %s", change.system, change.ticket_id, exc)
        return replace(reply, state="blocked")
    return store.reserve_reply({**base, "text": text})


def _thread_is_private(runtime: Runtime, thread_key: str, target: Interaction) -> bool:
    if target.kind == "direct_message":
        return True
    return any(triage.channel == "private" for triage in runtime.store.interaction_triage(thread_key))


def _reply_text(
    runtime: Runtime, desk: str, change: StatusChange, link: ThreadLink, target: Interaction, channel: str
) -> str:
    """The agent's own public reply when the ticket carries one, else the template."""
    agent_text = _agent_reply(runtime, desk, change.ticket_id)
    if agent_text:
        found = contains_pii(agent_text)
        if found:
            raise ReplyBlockedError(f"the agent's reply contains personal data ({', '.join(found)})")
        return agent_text
    language = target.language or runtime.config.triage.default_language
    brand = runtime.config.brand
    variables = {
        "author": {"handle": target.author.handle, "display_name": target.author.display_name},
        "brand": {"name": brand.name, "private_channel_hint": brand.private_channel_hint},
        "ticket": {"number": _ticket_number(runtime, desk, link)},
        "platform": target.platform,
    }
    outcome = choose_outcome(change.new_status, channel, direct=target.kind == "direct_message")
    return render_reply(outcome, language, variables, target.platform)


def _ticket_number(runtime: Runtime, desk: str, link: ThreadLink) -> str:
    """The number the customer can quote: stored, else asked of the desk once and stored."""
    if link.ticket_number:
        return link.ticket_number
    reader = getattr(runtime.connector(desk), "ticket_number", None)
    number = reader(link.ticket_id) if reader is not None else None
    if not number:
        return link.ticket_id
    runtime.store.set_link_number(link.system, link.ticket_id, str(number))
    return str(number)


def _agent_reply(runtime: Runtime, desk: str, ticket_id: str) -> str | None:
    field = runtime.mapping(desk).reply_field
    reader = getattr(runtime.connector(desk), "ticket_fields", None)
    if not field or reader is None:
        return None
    value = reader(ticket_id).get(field)
    return str(value).strip() if value else None
