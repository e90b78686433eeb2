"""One mention to triage, for the tests of triage settings and of the nature model."""

from __future__ import annotations

from datetime import UTC, datetime

from connector.model import Author, Interaction

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def mention(text: str, followers: int | None = None, verified: bool = False) -> Interaction:
    """An X mention of brand ``b`` by user ``u1``, written at :data:`NOW`."""
    return Interaction(
        platform="x",
        kind="mention",
        external_id="1",
        thread_key="x:b:1",
        brand_account_id="b",
        author=Author("x", "u1", followers_count=followers, verified=verified),
        text=text,
        created_at=NOW,
    )
