"""ONE contract suite, run against every desk connector: same scenarios, same assertions.

Each desk comes with a small factory that builds its connector and plays the people
around it: an operator seeding a customer, an agent closing a ticket. Adding a desk
(HubSpot, SOAP) means adding one factory class to ``FACTORIES``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlalchemy import func, select

from connector.crm.base import Connector, FollowUp, IdentifyRequest, TicketDraft
from connector.crm.local import LocalDesk, list_local_tickets, normalize_handle
from connector.crm.local_customers import CustomerRow, import_customers
from connector.crm.matching import marker_for
from connector.model import Author, Interaction, TicketRef
from connector.schema import local_ticket_entries
from connector.store import Store
from mappings import Mapping, load_mapping
from tests.emulators.hubspot import HubSpotEmulator
from tests.emulators.salesforce import SalesforceEmulator
from tests.emulators.tls import make_tls
from tests.hubspot_support import TOKEN
from tests.hubspot_support import connector as hubspot_connector
from tests.salesforce_support import CLIENT_ID, CLIENT_SECRET, draft, interaction
from tests.salesforce_support import connector as salesforce_connector
from tests.soap_support import connector as soap_connector
from tests.soap_support import seed_person, start_emulator


class DeskFactory:
    """What the suite needs from a desk besides its connector."""

    mapping_name: ClassVar[str]

    def __init__(self, store: Store, tmp_path: Path) -> None:
        self.store = store
        self.tmp_path = tmp_path
        self.mapping: Mapping = load_mapping(self.mapping_name)

    def connector(self) -> Connector:
        raise NotImplementedError

    def seed_customer(
        self, platform: str, user_id: str | None = None, handle: str | None = None, email: str | None = None
    ) -> str:
        """Create a customer known by these identities, as an operator would; return its id."""
        raise NotImplementedError

    def close_ticket(self, ticket_id: str) -> None:
        """Close a ticket as an agent would, in the desk's own tool."""
        raise NotImplementedError

    def ticket_status(self, ticket_id: str) -> str | None:
        """Our status (open/resolved/closed) of a ticket, read from the desk itself."""
        raise NotImplementedError

    def entries_for(self, ticket_id: str, item: Interaction) -> int:
        """How many times an interaction was appended to a ticket."""
        raise NotImplementedError

    def stop(self) -> None:
        """Release whatever the factory started."""


class LocalFactory(DeskFactory):
    mapping_name = "local.yaml"
    _serial = 0

    def connector(self) -> Connector:
        return LocalDesk(self.store, "support")

    def seed_customer(
        self, platform: str, user_id: str | None = None, handle: str | None = None, email: str | None = None
    ) -> str:
        LocalFactory._serial += 1
        customer_id = f"C-{LocalFactory._serial:04d}"
        identities = []
        if user_id:
            identities.append(("social_id", platform, user_id))
        if handle:
            identities.append(("handle", platform, normalize_handle(handle)))
        if email:
            identities.append(("email", "*", email.lower()))
        values = {
            "customer_id": customer_id,
            "name": "Seeded",
            "email": email,
            "phone": None,
            "value": 1000.0,
            "tier": None,
            "account_id": None,
        }
        import_customers(self.store, [CustomerRow(1, values, tuple(identities))])
        return customer_id

    def close_ticket(self, ticket_id: str) -> None:
        LocalDesk(self.store, "support").resolve(ticket_id, "done", status="closed")

    def ticket_status(self, ticket_id: str) -> str | None:
        return next(t["status"] for t in list_local_tickets(self.store) if t["id"] == ticket_id)

    def entries_for(self, ticket_id: str, item: Interaction) -> int:
        with self.store.engine.connect() as conn:
            query = select(func.count()).where(
                local_ticket_entries.c.ticket_id == int(ticket_id),
                local_ticket_entries.c.interaction_id == item.id,
            )
            return int(conn.execute(query).scalar_one())


class SalesforceFactory(DeskFactory):
    mapping_name = "salesforce.yaml"
    # Contact fields of the shipped mapping, per platform and identity.
    SOCIAL_FIELDS: ClassVar[dict[tuple[str, str], str]] = {
        ("x", "id"): "Social_Id__c",
        ("facebook", "id"): "Facebook_Id__c",
        ("x", "handle"): "Twitter_Handle__c",
        ("instagram", "handle"): "Instagram_Handle__c",
    }

    def __init__(self, store: Store, tmp_path: Path) -> None:
        super().__init__(store, tmp_path)
        self.emulator = SalesforceEmulator(make_tls(tmp_path)).start()
        self.emulator.register_client(CLIENT_ID, CLIENT_SECRET)

    def connector(self) -> Connector:
        return salesforce_connector(self.store, self.emulator, self.mapping)

    def seed_customer(
        self, platform: str, user_id: str | None = None, handle: str | None = None, email: str | None = None
    ) -> str:
        fields: dict[str, Any] = {"LastName": "Seeded", "Email": email}
        if user_id:
            fields[self.SOCIAL_FIELDS[(platform, "id")]] = user_id
        if handle:
            fields[self.SOCIAL_FIELDS[(platform, "handle")]] = normalize_handle(handle)
        return self.emulator.add_record("Contact", fields)

    def close_ticket(self, ticket_id: str) -> None:
        self.emulator.update_record("Case", ticket_id, {"Status": "Closed"})

    def ticket_status(self, ticket_id: str) -> str | None:
        return self.mapping.status_for(self.emulator.records["Case"][ticket_id]["Status"])

    def entries_for(self, ticket_id: str, item: Interaction) -> int:
        return sum(
            1
            for c in self.emulator.records["CaseComment"].values()
            if c["ParentId"] == ticket_id and c["CommentBody"].endswith(marker_for(item))
        )

    def stop(self) -> None:
        self.emulator.stop()


class HubSpotFactory(DeskFactory):
    mapping_name = "hubspot.yaml"
    # Contact properties of the shipped mapping, per platform and identity.
    SOCIAL_PROPERTIES: ClassVar[dict[tuple[str, str], str]] = {
        ("x", "id"): "ventanilla_social_id",
        ("facebook", "id"): "facebook_id",
        ("x", "handle"): "twitterhandle",
        ("instagram", "handle"): "instagram_handle",
    }

    def __init__(self, store: Store, tmp_path: Path) -> None:
        super().__init__(store, tmp_path)
        self.emulator = HubSpotEmulator(make_tls(tmp_path)).start()
        self.emulator.add_token(TOKEN)

    def connector(self) -> Connector:
        return hubspot_connector(self.store, self.emulator, self.mapping)

    def seed_customer(
        self, platform: str, user_id: str | None = None, handle: str | None = None, email: str | None = None
    ) -> str:
        properties: dict[str, Any] = {"firstname": "Seeded", "email": email}
        if user_id:
            properties[self.SOCIAL_PROPERTIES[(platform, "id")]] = user_id
        if handle:
            properties[self.SOCIAL_PROPERTIES[(platform, "handle")]] = normalize_handle(handle)
        return self.emulator.add_record("contacts", {k: v for k, v in properties.items() if v is not None})

    def close_ticket(self, ticket_id: str) -> None:
        self.emulator.update_record("tickets", ticket_id, {"hs_pipeline_stage": "4"})

    def ticket_status(self, ticket_id: str) -> str | None:
        return self.mapping.status_for(self.emulator.records["tickets"][ticket_id]["hs_pipeline_stage"])

    def entries_for(self, ticket_id: str, item: Interaction) -> int:
        notes = self.emulator.records["notes"]
        return sum(
            1
            for note_id, _ in self.emulator.associations("tickets", ticket_id, "notes")
            if marker_for(item) in notes[note_id]["hs_note_body"]
        )

    def stop(self) -> None:
        self.emulator.stop()


class SoapFactory(DeskFactory):
    """ServiceNow incidents through the SOAP emulator, over HTTPS as production would be."""

    mapping_name = "servicenow.yaml"

    def __init__(self, store: Store, tmp_path: Path) -> None:
        super().__init__(store, tmp_path)
        self.emulator = start_emulator(tls=make_tls(tmp_path))

    def connector(self) -> Connector:
        return soap_connector(self.store, self.emulator, self.mapping)

    def seed_customer(
        self, platform: str, user_id: str | None = None, handle: str | None = None, email: str | None = None
    ) -> str:
        return seed_person(
            self.emulator, platform, user_id, normalize_handle(handle) if handle else None, email
        )

    def close_ticket(self, ticket_id: str) -> None:
        self.emulator.advance(60)
        self.emulator.update_record("incident", ticket_id, {"state": "7"})

    def ticket_status(self, ticket_id: str) -> str | None:
        record = self.emulator.record("incident", ticket_id)
        return self.mapping.status_for(record["state"]) if record else None

    def entries_for(self, ticket_id: str, item: Interaction) -> int:
        notes = self.emulator.journal("incident", ticket_id, "work_notes")
        return sum(1 for note in notes if note.endswith(marker_for(item)))

    def stop(self) -> None:
        self.emulator.stop()


FACTORIES: list[type[DeskFactory]] = [LocalFactory, SalesforceFactory, HubSpotFactory, SoapFactory]


@pytest.fixture(params=FACTORIES, ids=lambda f: f.mapping_name.removesuffix(".yaml"))
def desk(request: pytest.FixtureRequest, store: Store, tmp_path: Path) -> Iterator[DeskFactory]:
    factory = request.param(store, tmp_path)
    yield factory
    factory.stop()


def drafts_for(desk: DeskFactory, *items: Interaction) -> list[TicketDraft]:
    return [draft(item, desk.mapping) for item in items]


def upserted(desk: DeskFactory, connector: Connector, items: list[Interaction]) -> list[TicketRef]:
    results = connector.upsert_tickets(drafts_for(desk, *items))
    assert all(isinstance(r, TicketRef) for r in results), results
    return [r for r in results if isinstance(r, TicketRef)]


# --- identify ----------------------------------------------------------------------------------


def test_identify_by_social_id(desk: DeskFactory) -> None:
    customer_id = desk.seed_customer("x", user_id="1122334455")
    found = desk.connector().find_customers([IdentifyRequest(Author("x", "1122334455", handle="carmen"))])
    customer = found["x:1122334455"]
    assert (customer.customer_id, customer.matched_by, customer.confidence) == (customer_id, "social_id", 1.0)


def test_identify_by_handle_ignoring_at_and_case(desk: DeskFactory) -> None:
    customer_id = desk.seed_customer("x", handle="Marta_RG")
    found = desk.connector().find_customers([IdentifyRequest(Author("x", "6253282", handle="@marta_rg"))])
    customer = found["x:6253282"]
    assert (customer.customer_id, customer.matched_by, customer.confidence) == (customer_id, "handle", 0.8)


def test_identify_by_an_email_given_in_a_private_message(desk: DeskFactory) -> None:
    customer_id = desk.seed_customer("facebook", email="jane@example.com")
    request = IdentifyRequest(Author("messenger", "6100000000000009"), emails=("jane@example.com",))
    customer = desk.connector().find_customers([request])["messenger:6100000000000009"]
    assert (customer.customer_id, customer.matched_by, customer.confidence) == (customer_id, "email", 0.95)


def test_an_unknown_author_is_not_returned(desk: DeskFactory) -> None:
    desk.seed_customer("x", user_id="1", handle="someone", email="someone@example.com")
    request = IdentifyRequest(Author("x", "999", handle="stranger"), emails=("stranger@example.com",))
    assert desk.connector().find_customers([request]) == {}


# --- tickets -----------------------------------------------------------------------------------


def test_upsert_is_idempotent_by_external_key(desk: DeskFactory) -> None:
    connector = desk.connector()
    items = [interaction(user_id="1"), interaction(user_id="2")]
    first = upserted(desk, connector, items)
    again = upserted(desk, connector, items)
    assert [r.ticket_id for r in again] == [r.ticket_id for r in first]
    assert len({r.ticket_id for r in first}) == 2
    assert [r.status for r in first] == ["open", "open"]
    assert all(r.system == connector.system for r in first)


def test_a_follow_up_appended_twice_is_there_once(desk: DeskFactory) -> None:
    connector = desk.connector()
    root = interaction()
    (ticket,) = upserted(desk, connector, [root])
    reply = interaction(thread=root.external_id, text="any news?")
    for _ in range(2):
        assert connector.append_followups([FollowUp(ticket.ticket_id, reply, reply.text)]) == [None]
    assert desk.entries_for(ticket.ticket_id, reply) == 1


FINISHED = ("resolved", "closed")


def test_a_closed_ticket_is_reopened(desk: DeskFactory) -> None:
    connector = desk.connector()
    (ticket,) = upserted(desk, connector, [interaction()])
    desk.close_ticket(ticket.ticket_id)
    assert desk.ticket_status(ticket.ticket_id) in FINISHED  # what "closed" means is the mapping's call
    assert connector.reopen_tickets([ticket.ticket_id]) == [None]
    assert desk.ticket_status(ticket.ticket_id) == "open"


def test_a_ticket_closed_in_the_desk_shows_up_in_status_changes(desk: DeskFactory) -> None:
    connector = desk.connector()
    closed, untouched = upserted(desk, connector, [interaction(), interaction()])
    desk.close_ticket(closed.ticket_id)
    changes = connector.read_status_changes(None)
    finished = [c for c in changes if c.new_status in FINISHED]
    assert [(c.system, c.ticket_id) for c in finished] == [(connector.system, closed.ticket_id)]
    assert untouched.ticket_id not in {c.ticket_id for c in finished}
    assert len({c.event_id for c in changes}) == len(changes)
