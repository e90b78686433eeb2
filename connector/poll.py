"""Read status changes from desks that cannot call us back, from a stored watermark."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from connector.model import parse_datetime
from connector.runtime import Runtime

log = logging.getLogger("ventanilla.poll")
WATERMARK = "watermark"


@dataclass(frozen=True, slots=True)
class PollResult:
    desk: str
    read: int
    recorded: int
    watermark: datetime | None


def poll_scope(desk: str) -> str:
    return f"poll:{desk}"


def poll_desk(runtime: Runtime, desk: str) -> PollResult:
    """Record every change after the desk's watermark, then move the watermark forward.

    Changes are recorded before the watermark moves, and recording is idempotent on the
    event id, so a crash in between only reads some changes again.
    """
    store = runtime.store
    stored = store.get_state(poll_scope(desk), WATERMARK)
    since = parse_datetime(stored) if isinstance(stored, str) else None
    changes = runtime.connector(desk).read_status_changes(since)
    recorded = sum(store.record_status_change(desk, change) is not None for change in changes)
    newest = max((change.occurred_at for change in changes), default=since)
    if newest is not None and newest != since:
        store.set_state(poll_scope(desk), WATERMARK, newest.isoformat())
    log.info("polled %s: %d change(s) read, %d new, watermark %s", desk, len(changes), recorded, newest)
    return PollResult(desk, len(changes), recorded, newest)


def pollable_desks(runtime: Runtime, only: Sequence[str] = ()) -> list[str]:
    """Desks whose status comes back by polling (the local desk records its own changes)."""
    names = [desk.name for desk in runtime.config.desks if desk.connector != "local"]
    if only:
        unknown = sorted(set(only) - {desk.name for desk in runtime.config.desks})
        if unknown:
            raise KeyError(", ".join(unknown))
        names = [name for name in names if name in only]
    return names
