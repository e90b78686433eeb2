"""Close the loop: a resolved or closed ticket gets exactly one reply on its social thread.

The reply is recorded before it is posted (intent), marked ``sending`` just before the
platform call, and recorded again with the platform's id. A retry that finds ``sending``
asks the platform whether the reply is already there before posting, so a crash between
posting and recording never posts twice; redelivered status changes reuse the record.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from connector.model import Interaction, StatusChange
from connector.outcome import BatchOutcome
from connector.publish.base import (
    PermanentPublishError,
    PublishError,
    RateLimitedError,
    UnverifiableError,
    WindowClosedError,
)
from connector.publish.messenger import private_reply_open
from connector.replies import ReplyBlockedError, choose_outcome, contains_pii, fit_for_platform, render_reply
from connector.runtime import Runtime
from connector.store import Job, Reply, ThreadLink

log = logging.getLogger("ventanilla.sync")
REPLY_STATUSES = frozenset({"resolved", "closed"})
PRIVATE_REPLY_PLATFORMS = frozenset({"facebook", "instagram"})


def sync_status_changes(runtime: Runtime, jobs: Sequence[Job]) -> BatchOutcome:
    """Handle a batch of ``sync`` jobs (ref: a status change)."""
    return _run(runtime, jobs, _sync_one)


def publish_replies(runtime: Runtime, jobs: Sequence[Job]) -> BatchOutcome:
    """Handle a batch of ``publish`` jobs (ref: an approved or retried reply)."""
    return _run(runtime, jobs, _publish_one)


def _run(runtime: Runtime, jobs: Sequence[Job], handle: Any) -> BatchOutcome:
    outcome = BatchOutcome()
    for job in jobs:
        try:
            handle(runtime, job)
        except PublishError as exc:  # rate limits included: they carry the reset time
            outcome.fail_platform([job], "publish", exc)
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
        from connector.crisis import is_incident_ticket

        if is_incident_ticket(store, change.system, change.ticket_id):
            log.info(
                "%s incident ticket %s %s: no social thread to answer",
                change.system,
                change.ticket_id,
                change.new_status,
            )
            return
        raise LookupError(f"{change.system} ticket {change.ticket_id} is not linked to any social thread")
    thread = store.thread_interactions(link.thread_key)
    if not thread:
        raise LookupError(f"thread {link.thread_key} has no customer interaction to answer")
    target = thread[-1]
    reply = _reserve(runtime, desk, job.ref_id, change, link, target)
    if reply.state in ("intent", "sending"):
        deliver(runtime, reply, target)


def _publish_one(runtime: Runtime, job: Job) -> None:
    reply = runtime.store.get_reply(job.ref_id)
    if reply is None:
        raise LookupError(f"reply {job.ref_id} is not in the store")
    if reply.state not in ("intent", "sending"):
        return
    target = runtime.store.interaction_by_external(reply.platform, reply.in_reply_to)
    if target is None:
        raise LookupError(
            f"reply {reply.id} answers {reply.platform}:{reply.in_reply_to}, which is not stored"
        )
    deliver(runtime, reply, target)


def deliver(runtime: Runtime, reply: Reply, target: Interaction) -> None:
    """Post one reserved reply exactly once, or settle it with a clear outcome on the ticket."""
    store = runtime.store
    publisher = runtime.publisher
    found = contains_pii(reply.text)
    if found:  # the text was checked when rendered; an approved or edited text is checked again
        _settle(runtime, reply, "blocked", f"the reply contains personal data ({', '.join(found)})")
        return
    if reply.state == "sending":
        try:
            already = publisher.find_posted(reply, target)
        except UnverifiableError as exc:
            _settle(runtime, reply, "uncertain", f"an earlier attempt may have posted it: {exc}")
            return
        if already:
            store.mark_reply_posted(reply.id, already)
            log.info("reply %d was already on %s as %s", reply.id, reply.platform, already)
            return
    store.mark_reply_sending(reply.id)
    try:
        platform_id = publisher.publish(reply, target)
    except RateLimitedError:
        store.mark_reply_state(reply.id, "intent", "rate limited; not sent")  # a 429 was not processed
        raise
    except WindowClosedError as exc:
        if reply.channel == "private_reply":
            _fall_back_to_public(runtime, reply, target, str(exc))
            return
        _settle(runtime, reply, "window_closed", str(exc))
        return
    except PermanentPublishError as exc:
        _settle(runtime, reply, "failed", str(exc))
        return
    store.mark_reply_posted(reply.id, platform_id or f"{reply.platform}:unknown")


def _fall_back_to_public(runtime: Runtime, reply: Reply, target: Interaction, reason: str) -> None:
    """Meta refused the private reply: invite the customer to a private channel in public instead."""
    found = runtime.store.get_status_change(reply.status_change_id)
    if found is None:
        raise LookupError(f"status change {reply.status_change_id} is not in the store")
    desk, change = found
    link = runtime.store.link_for_ticket(change.system, change.ticket_id)
    if link is None:
        raise LookupError(f"{change.system} ticket {change.ticket_id} is not linked to any social thread")
    log.info(
        "reply %d: private reply refused (%s); inviting to a private channel in public", reply.id, reason
    )
    try:
        text = _reply_text(runtime, desk, change, link, target, "public_invitation")
    except ReplyBlockedError as exc:
        _settle(runtime, reply, "blocked", str(exc))
        return
    runtime.store.update_reply_route(reply.id, "public", text)
    deliver(runtime, replace(reply, channel="public", text=text, state="intent"), target)


def _settle(runtime: Runtime, reply: Reply, state: str, detail: str) -> None:
    """A reply that will not be posted: recorded, audited and flagged on the ticket."""
    connector = runtime.connectors.get(reply.desk)
    system = connector.system if connector is not None else reply.desk
    runtime.store.mark_reply_state(reply.id, state, detail, subject=f"{system}:{reply.ticket_id}")
    log.warning("reply %d for ticket %s: %s: %s", reply.id, reply.ticket_id, state, detail)
    flag = getattr(connector, "flag_ticket", None)
    if flag is None:
        return
    try:
        flag(reply.ticket_id, f"Reply not posted ({state.replace('_', ' ')}): {detail}")
    except Exception:  # the reply state and audit log already say it; the flag is a courtesy
        log.exception("could not flag ticket %s", reply.ticket_id)


def _reserve(
    runtime: Runtime, desk: str, change_id: int, change: StatusChange, link: ThreadLink, target: Interaction
) -> Reply:
    store = runtime.store
    route = _route(runtime, link.thread_key, target)
    base: dict[str, Any] = {
        "status_change_id": change_id,
        "desk": desk,
        "ticket_id": change.ticket_id,
        "platform": target.platform,
        "in_reply_to": target.external_id,
        "thread_key": link.thread_key,
        "mode": runtime.publisher.mode if runtime.config.publish.mode != "approve" else "approve",
        "channel": "public" if route == "public_invitation" else route,
    }
    initial = "awaiting_approval" if runtime.config.publish.mode == "approve" else "intent"
    try:
        text = _reply_text(runtime, desk, change, link, target, route)
    except ReplyBlockedError as exc:
        reply = store.reserve_reply({**base, "text": f"[blocked: {exc}]"}, state=initial)
        if reply.state in ("intent", "awaiting_approval"):
            _settle(runtime, reply, "blocked", str(exc))
        return replace(reply, state="blocked")
    return store.reserve_reply({**base, "text": text}, state=initial)


def _route(runtime: Runtime, thread_key: str, target: Interaction) -> str:
    """``private`` (a DM thread), ``private_reply`` (Meta's private reply to a comment),
    ``public_invitation`` (a public answer that moves the customer to a private channel)
    or ``public``."""
    if target.kind == "direct_message":
        return "private"
    private = any(triage.channel == "private" for triage in runtime.store.interaction_triage(thread_key))
    if not private:
        return "public"
    if target.platform in PRIVATE_REPLY_PLATFORMS and target.kind == "comment" and private_reply_open(target):
        return "private_reply"
    return "public_invitation"


def _reply_text(
    runtime: Runtime, desk: str, change: StatusChange, link: ThreadLink, target: Interaction, route: str
) -> str:
    """The agent's own public reply when the ticket carries one, else the template."""
    agent_text = _agent_reply(runtime, desk, change.ticket_id)
    if agent_text and route != "public_invitation":
        found = contains_pii(agent_text)
        if found:
            raise ReplyBlockedError(f"the agent's reply contains personal data ({', '.join(found)})")
        fitted = fit_for_platform(agent_text, target.platform)
        if fitted != agent_text:
            log.warning(
                "the agent's reply for ticket %s was shortened to fit %s", change.ticket_id, target.platform
            )
        return fitted
    language = target.language or runtime.config.triage.default_language
    brand = runtime.config.brand
    variables = {
        "author": {"handle": target.author.handle, "display_name": target.author.display_name},
        "brand": {"name": brand.name, "private_channel_hint": brand.private_channel_hint},
        "ticket": {"number": _ticket_number(runtime, desk, link)},
        "platform": target.platform,
    }
    channel = "private" if route == "public_invitation" else "public"
    outcome = choose_outcome(change.new_status, channel, direct=route in ("private", "private_reply"))
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
