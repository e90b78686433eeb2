"""Parse Salesforce Outbound Message notifications (SOAP 1.1) without trusting the XML.

defusedxml refuses DTDs, entities and external references, so a hostile body cannot
expand, fetch or read anything; what is left is plain element traversal.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from webhooks.errors import MalformedPayloadError

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
OUTBOUND = "http://soap.sforce.com/2005/09/outbound"
SOBJECT = "urn:sobject.enterprise.soap.sforce.com"
MAX_NOTIFICATIONS = 100  # Salesforce sends at most 100 per message

ACK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}"><soapenv:Body>'
    f'<notificationsResponse xmlns="{OUTBOUND}"><Ack>true</Ack></notificationsResponse>'
    "</soapenv:Body></soapenv:Envelope>"
)


@dataclass(frozen=True, slots=True)
class Notification:
    """One changed record: its notification id (the dedupe key) and the fields sent."""

    notification_id: str
    sobject_type: str
    fields: dict[str, str | None]


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    organization_id: str
    action_id: str | None
    notifications: tuple[Notification, ...]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(parent: Element, namespace: str, name: str) -> Element | None:
    return parent.find(f"{{{namespace}}}{name}")


def _text(parent: Element, namespace: str, name: str, where: str) -> str:
    node = _child(parent, namespace, name)
    if node is None or not (node.text or "").strip():
        raise MalformedPayloadError(f"{where}.{name} is missing")
    return (node.text or "").strip()


def parse_outbound_message(body: bytes) -> OutboundMessage:
    """Return the notifications of one Outbound Message, or raise MalformedPayloadError."""
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise MalformedPayloadError(f"refused XML construct: {type(exc).__name__}") from None
    except ParseError as exc:
        raise MalformedPayloadError(f"body is not well-formed XML: {exc}") from None
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        raise MalformedPayloadError("expected a SOAP 1.1 Envelope")
    soap_body = _child(root, SOAP_ENV, "Body")
    notifications = None if soap_body is None else _child(soap_body, OUTBOUND, "notifications")
    if notifications is None:
        raise MalformedPayloadError(f"Envelope.Body.notifications ({OUTBOUND}) is missing")
    organization_id = _text(notifications, OUTBOUND, "OrganizationId", "notifications")
    action = _child(notifications, OUTBOUND, "ActionId")
    items = notifications.findall(f"{{{OUTBOUND}}}Notification")
    if not items:
        raise MalformedPayloadError("notifications has no Notification")
    if len(items) > MAX_NOTIFICATIONS:
        raise MalformedPayloadError(
            f"{len(items)} notifications; Salesforce sends at most {MAX_NOTIFICATIONS}"
        )
    parsed = tuple(_notification(item, index) for index, item in enumerate(items))
    return OutboundMessage(
        organization_id, (action.text or "").strip() if action is not None else None, parsed
    )


def _notification(item: Element, index: int) -> Notification:
    where = f"Notification[{index}]"
    notification_id = _text(item, OUTBOUND, "Id", where)
    sobject = _child(item, OUTBOUND, "sObject")
    if sobject is None:
        raise MalformedPayloadError(f"{where}.sObject is missing")
    # xsi:type="sf:Case": the prefix is declared on the element itself, so keep the local part.
    declared = sobject.get("{http://www.w3.org/2001/XMLSchema-instance}type", "")
    fields: dict[str, str | None] = {}
    for child in sobject:
        nil = child.get("{http://www.w3.org/2001/XMLSchema-instance}nil") == "true"
        fields[_local(child.tag)] = None if nil else (child.text or "")
    if not fields.get("Id"):
        raise MalformedPayloadError(f"{where}.sObject.Id is missing")
    return Notification(notification_id, declared.rsplit(":", 1)[-1] or "sObject", fields)
