"""What a raised crisis sets off: the alert, the parent incident ticket, the children linked.

The ``crisis`` outbox job (ref: the crisis id) runs three idempotent steps, and runs again
whenever children join (see :func:`connector.crisis.queue_crisis_links`):

1. **alert**: POST Slack-compatible JSON to ``crisis.webhook_url``, once. The post is
   claimed in the crisis row first, so two workers never post together, and ``alerted_at``
   is stored after a 2xx. A worker that dies between the POST and that commit leaves a
   stale claim: after the lease the alert is posted again (at least once beats never).
2. **parent ticket**: a P1 incident in ``crisis.desk`` (default: the first desk), upserted
   through the desk's connector with ``external_key = crisis:<id>``, so a re-run finds it.
3. **links**: children already on a ticket are linked to the parent through the optional
   connector method ``link_to_incident`` (local desk; Salesforce and SOAP desks through the
   mapping's ``target.parent_field``; HubSpot with ticket-to-ticket associations). A desk
   without it is skipped with a log line; its children are marked
   handled so they are not retried forever. Each child's stored triage gets its crisis
   flag here too, in case it was stored after the raise.

A failed alert does not hold back the ticket or the links: they run, then the job fails
and is retried with backoff (the alert only), and dead-lettered after the last try.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any, Protocol, runtime_checkable

import requests
from sqlalchemy import select, update

from connector.config import CrisisSettings
from connector.crisis_flags import CrisisMark, crisis_label, flag_stored_triages
from connector.crisis_records import Crisis, load_crisis, summary
from connector.crisis_topics import display_topic
from connector.crm.base import ConnectorError, PermanentConnectorError, RecordFailure, TicketDraft
from connector.http_session import ConfiguredSession
from connector.model import Triage, utcnow
from connector.outcome import BatchOutcome
from connector.runtime import Runtime
from connector.schema import crises, crisis_members, interactions
from connector.store import Job, Store
from mappings import RenderError, build_context, render_fields

log = logging.getLogger("ventanilla.crisis")
ALERT_TIMEOUT_S = 10.0
_SUBJECT_FIELDS = frozenset({"subject"})
_DESCRIPTION_FIELDS = frozenset({"description", "content"})


class CrisisJobError(Exception):
    """A step of a crisis job failed in a way worth retrying."""


class AlertError(CrisisJobError):
    """The alert webhook could not be reached or did not answer 2xx."""


@runtime_checkable
class IncidentLinker(Protocol):
    """The optional connector method that links child tickets to a parent incident."""

    system: str

    def link_to_incident(self, parent_ticket_id: str, child_ticket_ids: Sequence[str]) -> None:
        """Link every child ticket to the parent; linking twice changes nothing."""
        ...


def handle_crisis_jobs(runtime: Runtime, jobs: Sequence[Job]) -> BatchOutcome:
    """Handle a batch of ``crisis`` jobs: alert, parent ticket, links (each step idempotent)."""
    outcome = BatchOutcome()
    for job in jobs:
        try:
            run_crisis_job(runtime, job.ref_id)
        except LookupError as exc:
            outcome.fail([job], str(exc), permanent=True)
        except PermanentConnectorError as exc:
            outcome.fail([job], f"crisis {job.ref_id}: {exc}", permanent=True)
        except (CrisisJobError, ConnectorError) as exc:
            outcome.fail([job], f"crisis {job.ref_id}: {exc}")
        else:
            outcome.done.append(job)
    return outcome


def run_crisis_job(runtime: Runtime, crisis_id: int) -> None:
    """Alert, open the parent ticket, link the children; raise if a step must be retried."""
    crisis = load_crisis(runtime.store, crisis_id)
    problem: CrisisJobError | None = None
    try:
        send_alert(runtime, crisis)
    except CrisisJobError as exc:
        problem = exc
    crisis = ensure_parent_ticket(runtime, crisis)
    link_children(runtime, crisis)
    if problem is not None:
        raise problem


# --- 1. the alert ------------------------------------------------------------------------


def alert_payload(runtime: Runtime, crisis: Crisis) -> dict[str, Any]:
    """Slack-compatible JSON: ``text`` for every client, ``blocks`` for Slack's layout.

    Counts and times only: customers' words may carry personal data, and they are on the
    tickets for whoever needs them.
    """
    settings = runtime.config.crisis
    brand = runtime.config.brand.name
    title = summary(crisis, settings.window_minutes)
    detail = (
        f"Usual rate: {crisis.baseline_per_window:.1f} per {settings.window_minutes:g} min over the "
        f"previous {settings.baseline_hours:g} h. Started {crisis.started_at:%Y-%m-%d %H:%M} UTC."
    )
    where = f"{brand} · " if brand else ""
    return {
        "text": f":rotating_light: {title}. {detail}",
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": f"Crisis: {display_topic(crisis.topic)}"},
            },
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*\n{detail}"}},
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"{where}Ventanilla crisis #{crisis.id}; a parent incident ticket follows",
                    }
                ],
            },
        ],
    }


def post_alert(url: str, payload: dict[str, Any]) -> None:
    """POST the alert; raise :class:`AlertError` unless the webhook answers 2xx.

    The URL is a secret (Slack's webhook URLs are bearer credentials): no message here
    names it, and requests' own exception text (which would) is not repeated.
    """
    session = ConfiguredSession(None, ALERT_TIMEOUT_S)
    try:
        response = session.post(url, json=payload)
    except requests.RequestException as exc:
        raise AlertError(f"alert webhook unreachable ({type(exc).__name__})") from None
    finally:
        session.close()
    if not 200 <= response.status_code < 300:
        raise AlertError(f"alert webhook answered {response.status_code}")


def send_alert(runtime: Runtime, crisis: Crisis) -> None:
    """Post the alert once: claimed in the crisis row first, recorded after a 2xx."""
    url = runtime.config.crisis.webhook_url
    if crisis.alerted_at is not None:
        return
    if not url:
        log.info(  # the raise itself was logged as a warning
            "%s (no crisis.webhook_url configured: not alerted)",
            summary(crisis, runtime.config.crisis.window_minutes),
        )
        return
    store = runtime.store
    now = utcnow()
    stale = now - timedelta(seconds=runtime.config.dispatcher.lease_seconds)
    with store.write() as conn:
        claimed = conn.execute(
            update(crises)
            .where(
                crises.c.id == crisis.id,
                crises.c.alerted_at.is_(None),
                (crises.c.alert_claimed_at.is_(None)) | (crises.c.alert_claimed_at < stale),
            )
            .values(alert_claimed_at=now)
        ).rowcount
    if not claimed:
        raise CrisisJobError("the alert is being posted by another worker")
    try:
        post_alert(url, alert_payload(runtime, crisis))
    except AlertError:
        with store.write() as conn:
            conn.execute(update(crises).where(crises.c.id == crisis.id).values(alert_claimed_at=None))
        raise
    with store.write() as conn:
        conn.execute(update(crises).where(crises.c.id == crisis.id).values(alerted_at=utcnow()))
        Store.audit(conn, "crisis", "crisis.alerted", f"crisis:{crisis.id}", {"topic": crisis.topic})


# --- 2. the parent incident ticket ---------------------------------------------------------


def crisis_desk(runtime: Runtime, settings: CrisisSettings) -> str:
    desk = settings.desk or runtime.config.desks[0].name
    if desk not in runtime.connectors:
        raise LookupError(f"crisis.desk {desk!r} is not a configured desk")
    return desk


def ensure_parent_ticket(runtime: Runtime, crisis: Crisis) -> Crisis:
    """Create the P1 parent incident once (upsert on ``crisis:<id>``) and record it."""
    if crisis.parent_ticket_id is not None:
        return crisis
    settings = runtime.config.crisis
    desk = crisis_desk(runtime, settings)
    first = _first_child(runtime.store, crisis.id)
    title = summary(crisis, settings.window_minutes)
    description = (
        f"{title} (usual rate {crisis.baseline_per_window:.1f} per window), "
        f"started {crisis.started_at:%Y-%m-%d %H:%M} UTC. The children are linked to this ticket."
    )
    now = utcnow()
    triage = Triage(
        nature=first[1].nature if first[1] else "complaint",
        sentiment="neg",
        risk=1.0,
        influence=first[1].influence if first[1] else 0.0,
        value_score=0.0,
        priority="P1",
        sla_due_at=now + timedelta(hours=runtime.config.triage.sla_hours.get("P1", 1.0)),
        channel="public",
        crisis=True,
        explanation=f"P1: {crisis_label(crisis.topic, crisis.window_count, settings.window_minutes)}",
    )
    child = first[0]
    context = build_context(replace(child, text=description), child.author, None, triage, desk)
    try:
        fields = render_fields(runtime.mapping(desk), context)
    except RenderError as exc:
        raise PermanentConnectorError(f"mapping for desk {desk}: {exc}") from None
    for name in fields:
        if name.lower() in _SUBJECT_FIELDS:
            fields[name] = title
        elif name.lower() in _DESCRIPTION_FIELDS:
            fields[name] = description
    draft = TicketDraft(
        external_key=f"crisis:{crisis.id}",
        thread_key=f"crisis:{crisis.topic}:{crisis.id}",
        fields=fields,
        priority="P1",
        explanation=triage.explanation,
        first_interaction=child,
    )
    (result,) = runtime.connector(desk).upsert_tickets([draft])
    if isinstance(result, RecordFailure):
        error = f"parent ticket refused by desk {desk}: {result}"
        raise PermanentConnectorError(error) if result.permanent else ConnectorError(error)
    with runtime.store.write() as conn:
        conn.execute(
            update(crises)
            .where(crises.c.id == crisis.id)
            .values(
                desk=desk,
                parent_system=result.system,
                parent_ticket_id=result.ticket_id,
                parent_ticket_number=result.number,
            )
        )
        Store.audit(
            conn,
            "crisis",
            "crisis.ticket",
            f"crisis:{crisis.id}",
            {"desk": desk, "ticket_id": result.ticket_id},
        )
    log.info("crisis %d: parent incident %s %s in desk %s", crisis.id, result.system, result.ticket_id, desk)
    return replace(
        crisis,
        desk=desk,
        parent_system=result.system,
        parent_ticket_id=result.ticket_id,
        parent_ticket_number=result.number,
    )


def _first_child(store: Store, crisis_id: int) -> tuple[Any, Triage | None]:
    with store.read() as conn:
        row = conn.execute(
            select(interactions.c.id, interactions.c.triage)
            .join(crisis_members, crisis_members.c.interaction_id == interactions.c.id)
            .where(crisis_members.c.crisis_id == crisis_id)
            .order_by(interactions.c.created_at, interactions.c.id)
            .limit(1)
        ).first()
    if row is None:
        raise LookupError(f"crisis {crisis_id} has no children")
    stored = store.get_interactions([int(row.id)])[int(row.id)]
    return stored.interaction, Triage.from_dict(row.triage) if row.triage else None


# --- 3. the links ----------------------------------------------------------------------------


def link_children(runtime: Runtime, crisis: Crisis) -> int:
    """Link the children already on a ticket to the parent; return how many were handled.

    Children still in flight (no ticket yet) are left for the next run, which their own
    batch asks for once their tickets are recorded.
    """
    if crisis.parent_ticket_id is None:
        return 0
    store = runtime.store
    with store.read() as conn:
        rows = conn.execute(
            select(crisis_members.c.interaction_id, interactions.c.desk, interactions.c.ticket_id)
            .join(interactions, interactions.c.id == crisis_members.c.interaction_id)
            .where(
                crisis_members.c.crisis_id == crisis.id,
                crisis_members.c.linked_at.is_(None),
                interactions.c.ticket_id.is_not(None),
            )
            .order_by(crisis_members.c.interaction_id)
        ).all()
    by_desk: dict[str, list[Any]] = {}
    for row in rows:
        by_desk.setdefault(row.desk, []).append(row)
    settings = runtime.config.crisis
    mark = CrisisMark(crisis.id, crisis.topic, crisis.window_count)
    for desk, members in sorted(by_desk.items()):
        connector = runtime.connectors.get(desk)
        tickets = sorted({str(m.ticket_id) for m in members} - {crisis.parent_ticket_id})
        if isinstance(connector, IncidentLinker) and connector.system == crisis.parent_system:
            connector.link_to_incident(crisis.parent_ticket_id, tickets)
        else:
            log.info(
                "crisis %d: desk %s cannot link tickets to an incident; %d child ticket(s) not linked",
                crisis.id,
                desk,
                len(tickets),
            )
        ids = [int(m.interaction_id) for m in members]
        with store.write() as conn:
            flag_stored_triages(conn, ids, mark, settings.window_minutes, runtime.config.triage.sla_hours)
            conn.execute(
                update(crisis_members)
                .where(crisis_members.c.crisis_id == crisis.id, crisis_members.c.interaction_id.in_(ids))
                .values(linked_at=utcnow())
            )
    return len(rows)
