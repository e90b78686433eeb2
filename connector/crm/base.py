"""The one small contract every desk connector implements (local, Salesforce, HubSpot, SOAP).

Lifecycle decisions (create, append, reopen, new linked ticket) live once in the pipeline;
connectors only perform idempotent operations keyed by values the pipeline chooses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from connector.model import Author, Customer, Interaction, StatusChange, TicketRef


class ConnectorError(Exception):
    """A desk call failed in a way worth retrying (network, 5xx, rate limit)."""


class PermanentConnectorError(ConnectorError):
    """A desk refused the data itself (validation); retrying cannot help: dead-letter it."""


@dataclass(frozen=True, slots=True)
class RecordFailure:
    """One record of a batch call failed; the rest of the batch stands.

    ``permanent`` failures (validation: the desk refuses the data itself) become dead
    letters carrying the desk's message and fields; the others are retried.
    """

    message: str
    permanent: bool = True
    fields: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.message} (fields: {', '.join(self.fields)})" if self.fields else self.message


@dataclass(frozen=True, slots=True)
class TicketDraft:
    """A ticket to create, or find again, by ``external_key`` (thread key + generation)."""

    external_key: str
    thread_key: str
    fields: dict[str, Any]
    priority: str
    explanation: str
    first_interaction: Interaction
    customer: Customer | None = None
    linked_ticket_id: str | None = None


@dataclass(frozen=True, slots=True)
class FollowUp:
    """A later interaction appended to an existing ticket; idempotent on the interaction id."""

    ticket_id: str
    interaction: Interaction
    text: str


@dataclass(frozen=True, slots=True)
class IdentifyRequest:
    """An author to identify, with whatever contact data the private messages revealed."""

    author: Author
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    strategies: tuple[str, ...] = field(default=("social_id", "handle", "email", "phone"))


class Connector(Protocol):
    """What the pipeline needs from a desk."""

    system: str

    def find_customers(self, requests: Sequence[IdentifyRequest]) -> dict[str, Customer]:
        """Return the matched customer per author key (unmatched authors are left out)."""
        ...

    def upsert_tickets(self, drafts: Sequence[TicketDraft]) -> list[TicketRef | RecordFailure]:
        """Create tickets, or return the existing one for an ``external_key`` (same order)."""
        ...

    def append_followups(self, followups: Sequence[FollowUp]) -> list[RecordFailure | None]:
        """Append follow-ups (None per success, same order); appending twice leaves one entry."""
        ...

    def reopen_tickets(self, ticket_ids: Sequence[str]) -> list[RecordFailure | None]:
        """Move resolved tickets back to open (None per success, same order)."""
        ...

    def read_status_changes(self, since: datetime | None) -> list[StatusChange]:
        """Return status changes after ``since`` (polling fallback)."""
        ...
