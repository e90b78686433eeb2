"""Turn stored interactions into tickets: identify, triage, route, then create/append/reopen.

One open ticket per thread key and desk. The lifecycle decision is made here, once, for
every connector; connectors only run idempotent operations keyed by what we choose
(``thread_key#generation`` for tickets, the interaction id for follow-ups).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta

from connector.config import TriageSettings
from connector.crisis import detect_crises, queue_crisis_links
from connector.crm.base import ConnectorError, FollowUp, PermanentConnectorError, RecordFailure, TicketDraft
from connector.enrich import Enricher
from connector.identify import identify_authors
from connector.language import resolve_language
from connector.model import Customer, Interaction, Triage, utcnow
from connector.moderation import should_hide
from connector.outcome import BatchOutcome
from connector.publish.base import PublishError
from connector.routing import priority_rank, route
from connector.runtime import Runtime
from connector.store import Job, ThreadLink
from connector.triage import triage_interaction
from mappings import Mapping, RenderError, build_context, render_fields

log = logging.getLogger("ventanilla.pipeline")
DEFAULT_STRATEGIES = ("social_id", "email", "phone", "handle")


@dataclass
class ThreadPlan:
    """What to do for one thread in one desk."""

    thread_key: str
    members: list[tuple[Job, Interaction]]
    ticket_id: str | None = None
    draft: TicketDraft | None = None
    generation: int = 0
    previous_ticket_id: str | None = None
    reopen: bool = False
    followups: list[Interaction] = field(default_factory=list)


def process_interactions(runtime: Runtime, jobs: Sequence[Job]) -> BatchOutcome:
    """Handle a batch of ``process`` jobs; every job ends done or failed in the outcome."""
    outcome = BatchOutcome()
    stored = runtime.store.get_interactions([job.ref_id for job in jobs])
    by_desk: dict[str, list[tuple[Job, Interaction]]] = {}
    enricher = Enricher(runtime)
    for job in jobs:
        record = stored.get(job.ref_id)
        if record is None:
            outcome.fail([job], f"interaction {job.ref_id} is not in the store", permanent=True)
            continue
        if record.ticket_id is not None:
            outcome.done.append(job)  # a redelivered or replayed job: already on its ticket
            continue
        try:
            completed = enricher.enrich(record.interaction)
        except PublishError as exc:  # rate limits included: they carry the reset time
            outcome.fail_platform([job], "enrich", exc)
            continue
        item = with_language(completed, runtime.config.triage)
        desk = route(runtime.config, item, triage_interaction(item, None, runtime.config.triage))
        if desk is None:
            log.info("no desk takes %s %s; left without ticket", item.platform, item.external_id)
            outcome.done.append(job)
            continue
        by_desk.setdefault(desk, []).append((job, item))
    for desk, members in by_desk.items():
        try:
            _process_desk(runtime, desk, members, outcome)
        except PermanentConnectorError as exc:
            outcome.fail([job for job, _ in members], f"{desk}: {exc}", permanent=True)
        except ConnectorError as exc:
            outcome.fail([job for job, _ in members], f"{desk}: {exc}")
    return outcome


def with_language(item: Interaction, settings: TriageSettings) -> Interaction:
    """Settle the language once, so the ticket, the triage and the reply all agree on it."""
    language = resolve_language(item.language, item.text, settings.languages, settings.default_language)
    return item if language == item.language else replace(item, language=language)


def _process_desk(
    runtime: Runtime, desk: str, members: list[tuple[Job, Interaction]], outcome: BatchOutcome
) -> None:
    connector = runtime.connector(desk)
    mapping = runtime.mapping(desk)
    items = [item for _, item in members]
    customers = identify_authors(runtime.store, desk, connector, items, match_strategies(mapping))
    triages = {
        item.id: triage_interaction(item, customers.get(item.author.key), runtime.config.triage)
        for item in items
    }
    # Before planning, so the tickets of a crisis's children carry its priority.
    triages = detect_crises(runtime, items, triages)
    plans: list[ThreadPlan] = []
    for thread_key, thread_members in _group_by_thread(members).items():
        try:
            plans.append(_plan_thread(runtime, desk, mapping, thread_key, thread_members, customers, triages))
        except RenderError as exc:
            outcome.fail(
                [job for job, _ in thread_members], f"mapping {mapping.source}: {exc}", permanent=True
            )
    _apply_plans(runtime, desk, plans, triages, outcome)


def match_strategies(mapping: Mapping) -> tuple[str, ...]:
    """The mapping's ordered strategies; every strategy, most certain first, when it names none."""
    return tuple(m.strategy for m in mapping.customer_match) or DEFAULT_STRATEGIES


def _group_by_thread(members: list[tuple[Job, Interaction]]) -> dict[str, list[tuple[Job, Interaction]]]:
    threads: dict[str, list[tuple[Job, Interaction]]] = {}
    for job, item in sorted(members, key=lambda m: (m[1].created_at, m[1].id or 0)):
        threads.setdefault(item.thread_key, []).append((job, item))
    return threads


def _plan_thread(
    runtime: Runtime,
    desk: str,
    mapping: Mapping,
    thread_key: str,
    members: list[tuple[Job, Interaction]],
    customers: dict[str, Customer],
    triages: dict[int | None, Triage],
) -> ThreadPlan:
    plan = ThreadPlan(thread_key, members)
    items = [item for _, item in members]
    link = runtime.store.current_link(desk, thread_key)
    if link is not None and _continues(runtime, mapping, link):
        plan.ticket_id = link.ticket_id
        plan.reopen = link.status != "open" and mapping.lifecycle_policy == "reopen"
        plan.followups = items
        return plan
    plan.generation = 1 if link is None else link.generation + 1
    plan.previous_ticket_id = None if link is None else link.ticket_id
    first = items[0]
    customer = customers.get(first.author.key)
    urgent = min((triages[item.id] for item in items), key=lambda t: priority_rank(t.priority))
    context = build_context(first, first.author, customer, urgent, desk)
    plan.draft = TicketDraft(
        external_key=f"{thread_key}#{plan.generation}",
        thread_key=thread_key,
        fields=render_fields(mapping, context),
        priority=urgent.priority,
        explanation=urgent.explanation,
        first_interaction=first,
        customer=customer if customer and customer.customer_id else None,
        linked_ticket_id=plan.previous_ticket_id,
    )
    plan.followups = items[1:]
    return plan


def _continues(runtime: Runtime, mapping: Mapping, link: ThreadLink) -> bool:
    """Does a new interaction go onto the thread's current ticket (possibly reopening it)?"""
    if link.status == "open":
        return True
    policy = mapping.lifecycle_policy
    if policy == "append":
        return True
    if policy == "new_linked" or link.resolved_at is None:
        return False
    days = mapping.reopen_window_days
    window = timedelta(days=runtime.config.lifecycle.reopen_window_days if days is None else days)
    return utcnow() - link.resolved_at <= window


def _apply_plans(
    runtime: Runtime,
    desk: str,
    plans: list[ThreadPlan],
    triages: dict[int | None, Triage],
    outcome: BatchOutcome,
) -> None:
    """Run the plans as batched, idempotent connector calls, then record links and outcomes.

    A record the desk refuses fails only the jobs it carries; the rest of the batch stands.
    """
    connector = runtime.connector(desk)
    store = runtime.store
    failures: dict[int, RecordFailure] = {}  # interaction id → why its job failed
    creating = [plan for plan in plans if plan.draft is not None]
    results = connector.upsert_tickets([plan.draft for plan in creating if plan.draft is not None])
    for plan, result in zip(creating, results, strict=True):
        if isinstance(result, RecordFailure):
            failures.update((item.id or 0, result) for _, item in plan.members)
            continue
        plan.ticket_id = result.ticket_id
        store.save_link(
            desk,
            plan.thread_key,
            plan.generation,
            result.system,
            result.ticket_id,
            result.number,
            plan.previous_ticket_id,
        )
    reopening = [plan for plan in plans if plan.reopen and plan.ticket_id]
    if reopening:
        answers = connector.reopen_tickets([plan.ticket_id for plan in reopening if plan.ticket_id])
        for plan, failure in zip(reopening, answers, strict=True):
            if failure is not None:
                failures.update((item.id or 0, failure) for _, item in plan.members)
            elif plan.ticket_id:
                store.set_link_status(connector.system, plan.ticket_id, "open")
    followups = [
        FollowUp(plan.ticket_id, item, item.text)
        for plan in plans
        if plan.ticket_id
        for item in plan.followups
        if (item.id or 0) not in failures
    ]
    if followups:
        for followup, failure in zip(followups, connector.append_followups(followups), strict=True):
            if failure is not None:
                failures[followup.interaction.id or 0] = failure
    _settle_plans(runtime, desk, plans, triages, failures, outcome)


def _settle_plans(
    runtime: Runtime,
    desk: str,
    plans: list[ThreadPlan],
    triages: dict[int | None, Triage],
    failures: dict[int, RecordFailure],
    outcome: BatchOutcome,
) -> None:
    marks = []
    hide = []
    for plan in plans:
        for job, item in plan.members:
            failure = failures.get(item.id or 0)
            if failure is not None or plan.ticket_id is None:
                reason = failure or RecordFailure("no ticket was created", permanent=False)
                outcome.fail([job], f"{desk}: {reason}", permanent=reason.permanent)
                continue
            outcome.done.append(job)
            if item.id is not None:
                marks.append((item.id, desk, plan.ticket_id, triages[item.id], item.language))
                if should_hide(runtime, item, triages[item.id]):
                    hide.append(item.id)
        log.info(
            "thread %s → %s ticket %s (%d interaction(s)%s)",
            plan.thread_key,
            desk,
            plan.ticket_id,
            len(plan.members),
            ", reopened" if plan.reopen else "",
        )
    runtime.store.mark_ticketed(marks, hide)
    queue_crisis_links(runtime.store, [interaction_id for interaction_id, *_ in marks])
