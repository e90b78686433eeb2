"""Fetch what the webhooks missed: recent comments and mentions read back from the platforms.

Webhooks get lost (an outage on our side past Meta's retries, a subscription that lapsed,
an X delivery that never came). For every brand account this reads the recent comments
or mentions, keeps those the store does not have, and ingests them through the same
idempotent path as a webhook, so each becomes a ticket exactly once. A source that fails
ends with an error line and keeps its watermark, so the next run looks again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from connector.config import Config
from connector.model import InboundBatch, Interaction, parse_datetime, utcnow
from connector.publish.base import PermanentPublishError, PublishError
from connector.publish.graph_api import GraphClient
from connector.publish.x_api import XClient
from connector.reconcile_meta import Fetched, Progress, brand_ids, fetch_facebook, fetch_instagram
from connector.reconcile_x import fetch_x_mentions
from connector.runtime import Runtime

log = logging.getLogger("ventanilla.reconcile")

STATE_SCOPE = "reconcile"
#: Each run looks this far before the last run's start: clocks differ, and a comment can be
#: stamped just before it becomes readable.
OVERLAP = timedelta(minutes=10)
#: Recovered ids named per report line; the rest is counted.
IDS_SHOWN = 5
_UNITS = {"facebook": ("comments", "posts"), "instagram": ("comments", "media"), "x": ("mentions", "pages")}

Fetch = Callable[[datetime, Fetched, Progress], None]


@dataclass(frozen=True, slots=True)
class SourceReport:
    """What one run did for one account."""

    since: datetime
    scanned: int = 0
    recovered: int = 0
    already_known: int = 0
    errors: list[str] = field(default_factory=list)
    #: Posts / media whose comments were read (API pages for X).
    containers: int = 0
    recovered_ids: list[str] = field(default_factory=list)
    #: The brand's own comments stored for the thread history; they never become tickets.
    own: int = 0
    #: API objects that could not be read; retrying would not fix them, so the watermark moves.
    skipped: list[str] = field(default_factory=list)
    #: Why the account was not read at all (no API credentials configured): not an error.
    not_polled: str | None = None


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    per_source: dict[str, SourceReport]

    @property
    def total_recovered(self) -> int:
        return sum(source.recovered for source in self.per_source.values())

    @property
    def ok(self) -> bool:
        """True when every source finished (the CLI's exit status)."""
        return not any(source.errors for source in self.per_source.values())

    def lines(self) -> list[str]:
        """One summary line per source, then its errors and skipped objects."""
        out: list[str] = []
        for key, source in self.per_source.items():
            if source.not_polled:
                out.append(f"{key}: not polled: {source.not_polled}")
                continue
            if source.scanned or source.containers or not source.errors:
                out.append(f"{key}: {_summary(key, source)}")
            out += [f"{key}: error: {error}" for error in source.errors]
            out += [f"{key}: skipped: {reason}" for reason in source.skipped]
        return out


def _summary(key: str, source: SourceReport) -> str:
    items, containers = _UNITS.get(key.split(":", 1)[0], ("items", "pages"))
    scanned = f"scanned {source.scanned} {items}"
    if containers != "pages":
        scanned += f" on {source.containers} {containers}"
    text = f"{scanned} since {source.since:%Y-%m-%d %H:%M} UTC, recovered {source.recovered}"
    if source.recovered_ids:
        shown = ", ".join(source.recovered_ids[:IDS_SHOWN])
        more = len(source.recovered_ids) - IDS_SHOWN
        text += f" ({shown}{f', and {more} more' if more > 0 else ''})"
    text += f", {source.already_known} already known"
    if source.own:
        text += f", {source.own} of our own stored"
    return text


@dataclass(frozen=True, slots=True)
class Source:
    """One account to read: its report key, its platform, how to fetch, and the setting it lacks."""

    key: str
    platform: str
    fetch: Fetch
    missing: str | None = None


def looks_like_instagram_account(account_id: str) -> bool:
    """Instagram professional account ids are 17-digit numbers starting 1784 (Page ids are not).

    Only a fallback for configurations that list both in ``brand_account_ids`` without
    setting ``instagram_account_id``.
    """
    return len(account_id) == 17 and account_id.startswith("1784") and account_id.isdigit()


def plan_sources(config: Config) -> list[Source]:
    """The accounts the configuration names, each with its fetcher or the setting it lacks."""
    meta, x, max_posts = config.platforms.meta, config.platforms.x, config.reconcile.max_posts
    ig_id = meta.instagram_account_id or next(
        (i for i in meta.brand_account_ids if looks_like_instagram_account(i)), None
    )
    page_ids = [meta.page_id] if meta.page_id else []
    page_ids += [i for i in meta.brand_account_ids if i != ig_id and i not in page_ids]
    sources: list[Source] = []
    if page_ids or ig_id:
        graph = GraphClient(meta)
        no_page_token = None if meta.page_access_token else "platforms.meta.page_access_token is not set"
        for page_id in page_ids:
            brand = brand_ids(meta.brand_account_ids, page_id)
            fetch: Fetch = partial(fetch_facebook, graph, page_id, brand, max_posts)
            sources.append(Source(f"facebook:{page_id}", "facebook", fetch, no_page_token))
        if ig_id:
            brand = brand_ids(meta.brand_account_ids, ig_id)
            fetch = partial(fetch_instagram, graph, ig_id, brand, max_posts)
            # Instagram calls fall back to the Page token when no Instagram token is set.
            no_ig_token = (
                None
                if meta.instagram_access_token or meta.page_access_token
                else ("platforms.meta.page_access_token (or instagram_access_token) is not set")
            )
            sources.append(Source(f"instagram:{ig_id}", "instagram", fetch, no_ig_token))
    if x.brand_user_ids:
        user_id = x.brand_user_ids[0]
        fetch = partial(fetch_x_mentions, XClient(x), user_id, brand_ids(x.brand_user_ids, user_id))
        no_x_token = None if x.access_token else "platforms.x.access_token is not set"
        sources.append(Source(f"x:{user_id}", "x", fetch, no_x_token))
    return sources


def reconcile(
    runtime: Runtime, since: timedelta | None = None, progress: Callable[[str], None] | None = None
) -> ReconcileReport:
    """Read every configured account since ``since`` (or its watermark) and ingest what is missing.

    Never raises for a platform failure or a missing setting: those become error lines
    in the report, and the other sources still run.
    """
    started = utcnow()
    report: dict[str, SourceReport] = {}
    for source in plan_sources(runtime.config):
        report[source.key] = reconcile_source(runtime, source, started, since, progress or _quiet)
    return ReconcileReport(report)


def _quiet(_message: str) -> None:
    """No progress display."""


def window_start(runtime: Runtime, key: str, started: datetime, since: timedelta | None) -> datetime:
    """``since`` when given; else the last successful run's start less the overlap; else the lookback."""
    if since is not None:
        return started - since
    watermark = _watermark(runtime, key)
    if watermark is not None:
        return watermark - OVERLAP
    return started - timedelta(hours=runtime.config.reconcile.lookback_hours)


def _watermark(runtime: Runtime, key: str) -> datetime | None:
    stored = runtime.store.get_state(STATE_SCOPE, key)
    if not isinstance(stored, str):
        return None
    try:
        return parse_datetime(stored)
    except ValueError:
        log.warning("reconcile watermark of %s is unreadable (%r); using the lookback", key, stored)
        return None


def reconcile_source(
    runtime: Runtime, source: Source, started: datetime, since: timedelta | None, progress: Progress
) -> SourceReport:
    """Fetch one account, ingest what the store lacks in one transaction, then move its watermark."""
    start = window_start(runtime, source.key, started, since)
    if source.missing is not None:
        return SourceReport(since=start, not_polled=source.missing)
    fetched = Fetched()
    errors: list[str] = []
    try:
        source.fetch(start, fetched, progress)
    except (PublishError, PermanentPublishError) as exc:
        # Whatever was read before the failure is still ingested; the watermark stays put.
        errors.append(str(exc) or type(exc).__name__)
        log.warning("reconcile %s stopped: %s", source.key, exc)
    known, recovered, recovered_ids, own = _ingest_missing(runtime, source.platform, fetched)
    if not errors and _covers_watermark(runtime, source.key, start):
        runtime.store.set_state(STATE_SCOPE, source.key, started.isoformat())
    log.info(
        "reconciled %s: %d scanned, %d recovered, %d known, %d error(s)",
        source.key,
        fetched.scanned,
        recovered,
        known,
        len(errors),
    )
    return SourceReport(
        since=start,
        scanned=fetched.scanned,
        recovered=recovered,
        already_known=known,
        errors=errors,
        containers=fetched.containers,
        recovered_ids=recovered_ids,
        own=own,
        skipped=list(fetched.skipped),
    )


def _covers_watermark(runtime: Runtime, key: str, start: datetime) -> bool:
    """A short ``--since`` that did not reach back to the watermark must not move it past the gap."""
    watermark = _watermark(runtime, key)
    return watermark is None or start <= watermark


def _ingest_missing(runtime: Runtime, platform: str, fetched: Fetched) -> tuple[int, int, list[str], int]:
    """Ingest the records the store lacks; return (already known, recovered, their ids, own stored).

    Oldest first, so a reply is stored after its parent and joins the parent's thread.
    """
    unique: dict[str, tuple[Interaction, dict[str, object]]] = {}
    for item, obj in fetched.found:
        unique.setdefault(item.external_id, (item, obj))
    known = runtime.store.known_external_ids(platform, list(unique))
    missing = sorted(
        (pair for external_id, pair in unique.items() if external_id not in known),
        key=lambda pair: pair[0].created_at,
    )
    if not missing:
        return len(known), 0, [], 0
    result = runtime.store.ingest(
        source=f"reconcile:{platform}",
        body=json.dumps([obj for _, obj in missing]).encode(),
        headers={},
        batch=InboundBatch(interactions=tuple(item for item, _ in missing)),
    )
    # A webhook that stored one of them since the check above makes it a duplicate here: the
    # counts come from the store, the ids (which it does not return) may then name one too many.
    recovered = [item.external_id for item, _ in missing if not item.from_brand]
    return len(known) + result.duplicates, result.new, recovered, result.from_brand
