"""A crisis's child tickets linked to its parent incident in HubSpot (ticket → ticket associations).

HubSpot tickets have no parent field: ``link_to_incident`` associates each child to the parent
with the default (unlabeled) ticket → ticket type, through hubspot-api-client over real HTTPS
against the emulator. Assertions read the links back from both the portal and the API.
"""

from __future__ import annotations

import logging

import pytest

from connector.crisis_incident import IncidentLinker
from connector.crm.base import PermanentConnectorError
from connector.crm.batching import RetryableError
from connector.crm.hubspot import HubSpotConnector
from connector.store import Store
from tests import test_hubspot_connector as shared
from tests.emulators.hubspot import HubSpotEmulator
from tests.hubspot_support import bodies, paths
from tests.salesforce_support import draft, interaction

# The HubSpot connector tests' fixtures: a TLS pair per module, a fresh emulator and connector per test.
tls, emulator, hs = shared.tls, shared.emulator, shared.hs

DEFAULT = "/crm/v4/associations/tickets/tickets/batch/associate/default"
TICKET_TO_TICKET = 452  # HubSpot's unlabeled ticket → ticket association type


def new_tickets(emulator: HubSpotEmulator, n: int) -> list[str]:
    """Tickets already in the portal (seeded: the crisis only links tickets the pipeline made)."""
    return [emulator.add_record("tickets", {"subject": f"t{i}", "hs_pipeline_stage": "1"}) for i in range(n)]


def linked(emulator: HubSpotEmulator, ticket_id: str) -> list[tuple[str, int]]:
    return emulator.associations("tickets", ticket_id, "tickets")


def link_calls(emulator: HubSpotEmulator) -> list[tuple[str, str, int]]:
    return [p for p in paths(emulator) if p[1] == DEFAULT]


def test_children_are_associated_to_the_parent_and_linking_twice_changes_nothing(
    emulator: HubSpotEmulator, hs: HubSpotConnector
) -> None:
    assert isinstance(hs, IncidentLinker)  # the crisis job now links HubSpot children
    made = shared.tickets(hs.upsert_tickets([draft(interaction(), shared.MAPPING) for _ in range(4)]))
    parent, *children = (ref.ticket_id for ref in made)
    emulator.reset_log()
    for _ in range(2):
        hs.link_to_incident(parent, children)
    assert link_calls(emulator) == [("POST", DEFAULT, 200)] * 2
    assert bodies(emulator, "associate/default")[0] == {
        "inputs": [{"from": {"id": child}, "to": {"id": parent}} for child in children]
    }
    assert linked(emulator, parent) == [(child, TICKET_TO_TICKET) for child in children]  # once each
    assert all(linked(emulator, child) == [(parent, TICKET_TO_TICKET)] for child in children)
    # Read back through the v4 API, as HubSpot's UI and other integrations see it.
    (row,) = hs.client.read_associations("tickets", "tickets", [parent]).results
    assert [(str(t["toObjectId"]), t["associationTypes"][0]["typeId"]) for t in row["to"]] == [
        (child, TICKET_TO_TICKET) for child in children
    ]


def test_more_than_100_children_take_two_calls(emulator: HubSpotEmulator, hs: HubSpotConnector) -> None:
    parent, *children = new_tickets(emulator, 151)
    hs.link_to_incident(parent, children)
    assert [len(body["inputs"]) for body in bodies(emulator, "associate/default")] == [100, 50]
    assert sorted(to for to, _ in linked(emulator, parent)) == sorted(children)


def test_no_children_make_no_call(emulator: HubSpotEmulator, hs: HubSpotConnector) -> None:
    (parent,) = new_tickets(emulator, 1)
    hs.link_to_incident(parent, [])
    hs.link_to_incident(parent, [parent])  # the parent is never its own child
    assert emulator.request_log == []


def test_an_unknown_child_is_dropped_and_audited_and_the_others_linked(
    store: Store, emulator: HubSpotEmulator, hs: HubSpotConnector, caplog: pytest.LogCaptureFixture
) -> None:
    parent, first, last = new_tickets(emulator, 3)
    with caplog.at_level(logging.INFO, "ventanilla.hubspot"):
        hs.link_to_incident(parent, [first, "404404", last])
    assert link_calls(emulator) == [("POST", DEFAULT, 400), ("POST", DEFAULT, 200)]
    assert linked(emulator, parent) == [(first, TICKET_TO_TICKET), (last, TICKET_TO_TICKET)]
    (entry,) = [e for e in store.audit_entries() if e["action"] == "ticket.association_failed"]
    assert entry["detail"]["pairs"] == [["404404", parent]]
    assert "does not exist" in entry["detail"]["error"]
    assert f"support: 2 child ticket(s) linked to incident {parent}, 1 refused" in caplog.messages


def test_an_unknown_parent_is_a_permanent_error(emulator: HubSpotEmulator, hs: HubSpotConnector) -> None:
    children = new_tickets(emulator, 2)
    with pytest.raises(PermanentConnectorError, match="ticket 404404 does not exist"):
        hs.link_to_incident("404404", children)
    assert all(linked(emulator, child) == [] for child in children)
    assert len(link_calls(emulator)) == 1  # not retried: a refusal is not transient


def test_a_multi_status_answer_audits_the_children_it_names(
    store: Store, emulator: HubSpotEmulator, hs: HubSpotConnector
) -> None:
    parent, child, gone = new_tickets(emulator, 3)
    error = {
        "status": "error",
        "category": "VALIDATION_ERROR",
        "context": {"fromObjectId": [gone]},
        "message": f"ticket {gone} does not exist",
    }
    answer = {"status": "COMPLETE", "results": [], "numErrors": 1, "errors": [error]}
    emulator.fail_next(1, 207, answer, path_contains="associate/default")
    hs.link_to_incident(parent, [child, gone])
    (entry,) = [e for e in store.audit_entries() if e["action"] == "ticket.association_failed"]
    assert entry["detail"] == {"to": "tickets", "pairs": [[gone, parent]], "error": error["message"]}


def test_server_errors_are_retried_and_stay_retryable(
    emulator: HubSpotEmulator, hs: HubSpotConnector
) -> None:
    parent, child = new_tickets(emulator, 2)
    emulator.fail_next(1, 503, path_contains="associate/default")
    hs.link_to_incident(parent, [child])
    assert linked(emulator, parent) == [(child, TICKET_TO_TICKET)]
    emulator.fail_next(hs.settings.retries, 502, path_contains="associate/default")
    with pytest.raises(RetryableError, match="502"):  # the crisis job is retried later
        hs.link_to_incident(parent, [child])
