"""Hide public comments that expose personal data (Facebook ``is_hidden``, Instagram ``hide``).

Enabled with ``platforms.meta.hide_comments_with_pii``. Hiding keeps the comment visible to
its author and friends but not to the public, and is reversible; every hide is audited.
In dry-run mode the audit log records what would have been hidden.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from connector.model import Interaction, Triage
from connector.outcome import BatchOutcome
from connector.publish.base import PermanentPublishError, PublishError
from connector.publish.graph_api import GraphClient
from connector.runtime import Runtime
from connector.store import Job

log = logging.getLogger("ventanilla.moderation")
HIDEABLE = frozenset({"facebook", "instagram"})


def should_hide(runtime: Runtime, item: Interaction, triage: Triage) -> bool:
    """A customer's public comment with personal data, on a platform that can hide it."""
    return (
        runtime.config.platforms.meta.hide_comments_with_pii
        and bool(triage.pii)
        and item.platform in HIDEABLE
        and item.kind == "comment"
        and not item.from_brand
    )


def hide_comments(runtime: Runtime, jobs: Sequence[Job]) -> BatchOutcome:
    """Handle ``hide`` jobs (ref: an interaction)."""
    outcome = BatchOutcome()
    stored = runtime.store.get_interactions([job.ref_id for job in jobs])
    graph = GraphClient(runtime.config.platforms.meta)
    for job in jobs:
        record = stored.get(job.ref_id)
        if record is None:
            outcome.fail([job], f"interaction {job.ref_id} is not in the store", permanent=True)
            continue
        item = record.interaction
        subject = f"{item.platform}:{item.external_id}"
        if record.removed:
            outcome.done.append(job)
            continue
        if runtime.config.publish.mode == "dry-run":
            runtime.store.audit_event(
                "moderation", "comment.hide.dry-run", subject, {"reason": "personal data"}
            )
            outcome.done.append(job)
            continue
        instagram = item.platform == "instagram"
        try:
            graph.post(
                item.external_id,
                params={"hide": "true"} if instagram else {"is_hidden": "true"},
                instagram=instagram,
                idempotent=True,
            )
        except PublishError as exc:  # rate limits included: they carry the reset time
            outcome.fail_platform([job], "hide", exc)
            continue
        except PermanentPublishError as exc:
            runtime.store.audit_event("moderation", "comment.hide.failed", subject, {"error": str(exc)})
            outcome.fail([job], f"hide: {exc}", permanent=True)
            continue
        runtime.store.audit_event("moderation", "comment.hidden", subject, {"reason": "personal data"})
        log.info("hid %s: it exposed personal data", subject)
        outcome.done.append(job)
    return outcome
