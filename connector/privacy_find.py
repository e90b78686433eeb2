"""Find what is stored as theirs first, so every later step can recognise it wherever it was copied."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from connector.privacy_report import Person
from connector.privacy_scrub import Scrubber
from connector.schema import audit_log, interactions


@dataclass
class Belongings:
    """Their interactions and what identifies them: handles, author keys, edited texts, DM threads."""

    own: list[Any]  # their interaction rows
    handles: list[str]
    keys: list[str]  # every author key they are stored under
    edits: list[Any]  # audit entries recording edits of their interactions (old and new text)
    threads: dict[str, str]  # their DM thread keys → the same key with the pseudonym

    def scrubber(self, person: Person) -> Scrubber:
        texts = [r.text for r in self.own] + [
            str(row.detail.get(k) or "") for row in self.edits for k in ("old_text", "new_text")
        ]
        return Scrubber(
            person,
            handles=self.handles,
            names=[str(r.author.get("display_name") or "") for r in self.own],
            # Not permalinks: a Facebook permalink is the brand's post, shared by every commenter
            # (an X permalink holds their handle, which is erased anyway).
            links=[str(r.author.get("profile_url") or "") for r in self.own],
            texts=texts,
            threads=self.threads,
            own_raws=[r.raw for r in self.own if r.raw],
            own_ids=[r.external_id for r in self.own],
        )


def find_belongings(conn: Connection, person: Person) -> Belongings:
    """Their interactions (also under an Instagram ``username:`` key), edits of them and DM threads."""
    own = list(conn.execute(select(interactions).where(interactions.c.author_key == person.key)))
    handles = {r.author.get("handle") for r in own} - {None}
    keys = [person.key, *(f"{person.platform}:username:{h}" for h in handles)]
    if len(keys) > 1:  # an Instagram mention author known by username only is the same person
        own = list(conn.execute(select(interactions).where(interactions.c.author_key.in_(keys))))
    subjects = {f"{r.platform}:{r.external_id}" for r in own}
    edits = [
        row
        for row in conn.execute(
            select(audit_log).where(
                audit_log.c.action == "interaction.edited", audit_log.c.subject.in_(sorted(subjects))
            )
        )
    ]
    return Belongings(own, [str(h) for h in handles], keys, edits, _own_threads(conn, person))


def _own_threads(conn: Connection, person: Person) -> dict[str, str]:
    """Their direct-message threads (keyed by their id) → the same key with the pseudonym."""
    platform, user_id = person.platform, person.user_id
    rows = conn.execute(
        select(interactions.c.thread_key, interactions.c.brand_account_id)
        .where(interactions.c.platform == platform, interactions.c.thread_key.endswith(f":{user_id}"))
        .distinct()
    )
    return {
        row.thread_key: f"{platform}:{row.brand_account_id}:{person.pseudonym}"
        for row in rows
        if row.thread_key == f"{platform}:{row.brand_account_id}:{user_id}"
    }
