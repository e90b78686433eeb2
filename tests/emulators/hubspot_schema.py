"""HubSpot emulator: property definitions, object types, the ticket pipeline, association types, time.

One registry (``ObjectDef.properties``) drives validation, search typing and ``/crm/v3/properties``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

CLOCK_START = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)
_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?)?(Z|[+-]\d{2}:?\d{2})?"
)

# Property types as HubSpot names them (``type``), with the UI field type each one defaults to.
FIELD_TYPES = {
    "string": "text",
    "number": "number",
    "enumeration": "select",
    "datetime": "date",
    "date": "date",
    "bool": "booleancheckbox",
}

LIFECYCLE_STAGES = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
)


def format_time(moment: datetime) -> str:
    """``2026-11-23T10:00:00.000Z``: the form HubSpot uses for datetime values and createdAt/updatedAt."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_time(value: str) -> datetime | None:
    """Read an epoch-milliseconds string or an ISO 8601 date/datetime (both accepted by the API)."""
    text = value.strip()
    if re.fullmatch(r"-?\d{1,15}", text):
        return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
    match = _ISO.fullmatch(text)
    if match is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class PropertyDef:
    """One property as ``/crm/v3/properties`` describes it, plus the emulator's write rules."""

    name: str
    type: str = "string"
    unique: bool = False
    options: tuple[str, ...] = ()
    required: bool = False  # on create
    read_only: bool = False
    hubspot_defined: bool = True
    label: str = ""

    @property
    def field_type(self) -> str:
        return FIELD_TYPES.get(self.type, "text")

    def describe(self, singular: str, order: int) -> dict[str, object]:
        """The property as ``GET /crm/v3/properties/{objectType}`` returns it."""
        return {
            "name": self.name,
            "label": self.label or self.name.replace("_", " ").title(),
            "type": self.type,
            "fieldType": self.field_type,
            "description": "",
            "groupName": f"{singular}information",
            "options": [
                {"label": option.title(), "value": option, "displayOrder": index, "hidden": False}
                for index, option in enumerate(self.options)
            ],
            "displayOrder": order,
            "calculated": False,
            "externalOptions": False,
            "hasUniqueValue": self.unique,
            "hidden": False,
            "hubspotDefined": self.hubspot_defined,
            "formField": not self.read_only,
            "modificationMetadata": {
                "archivable": not self.hubspot_defined,
                "readOnlyDefinition": self.hubspot_defined,
                "readOnlyValue": self.read_only,
            },
            "createdAt": format_time(CLOCK_START),
            "updatedAt": format_time(CLOCK_START),
            "archived": False,
        }


@dataclass
class ObjectDef:
    """A CRM object type: its names, its property registry and the properties it returns by default."""

    name: str  # path name, plural: "contacts"
    singular: str  # "contact"
    type_id: str  # "0-1"
    created_property: str
    modified_property: str
    default_properties: tuple[str, ...]
    properties: dict[str, PropertyDef] = field(default_factory=dict)

    @property
    def upper(self) -> str:
        """``CONTACT``: the name error messages use."""
        return self.singular.upper()

    def add(self, prop: PropertyDef) -> None:
        self.properties[prop.name] = prop

    def always(self) -> tuple[str, ...]:
        """Properties every record read returns, whatever was asked for."""
        return ("hs_object_id", self.created_property, self.modified_property)


def _system(created: str, modified: str) -> list[PropertyDef]:
    return [
        PropertyDef("hs_object_id", "number", read_only=True),
        PropertyDef(created, "datetime"),
        PropertyDef(modified, "datetime", read_only=True),
    ]


def _custom(*props: PropertyDef) -> list[PropertyDef]:
    return [PropertyDef(p.name, p.type, p.unique, p.options, p.required, p.read_only, False) for p in props]


def default_objects() -> dict[str, ObjectDef]:
    """Contacts, companies, tickets and notes with the standard and Ventanilla custom properties."""
    contacts = ObjectDef(
        "contacts",
        "contact",
        "0-1",
        "createdate",
        "lastmodifieddate",
        ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
    )
    for prop in [
        PropertyDef("email", unique=True),
        PropertyDef("firstname"),
        PropertyDef("lastname"),
        PropertyDef("phone"),
        PropertyDef("mobilephone"),
        PropertyDef("twitterhandle"),
        PropertyDef("lifecyclestage", "enumeration", options=LIFECYCLE_STAGES),
        PropertyDef("associatedcompanyid", "number"),
        *_system("createdate", "lastmodifieddate"),
        *_custom(
            PropertyDef("ventanilla_social_id", unique=True),
            PropertyDef("facebook_id"),
            PropertyDef("instagram_handle"),
            PropertyDef("lifetime_value", "number"),
            PropertyDef("tier"),
        ),
    ]:
        contacts.add(prop)
    companies = ObjectDef(
        "companies",
        "company",
        "0-2",
        "createdate",
        "hs_lastmodifieddate",
        ("name", "domain", "createdate", "hs_lastmodifieddate", "hs_object_id"),
    )
    for prop in [
        PropertyDef("name"),
        PropertyDef("domain"),
        PropertyDef("annualrevenue", "number"),
        *_system("createdate", "hs_lastmodifieddate"),
        *_custom(PropertyDef("tier")),
    ]:
        companies.add(prop)
    tickets = ObjectDef(
        "tickets",
        "ticket",
        "0-5",
        "createdate",
        "hs_lastmodifieddate",
        (
            "content",
            "hs_pipeline",
            "hs_pipeline_stage",
            "hs_ticket_category",
            "hs_ticket_priority",
            "subject",
            "createdate",
            "hs_lastmodifieddate",
            "hs_object_id",
        ),
    )
    for prop in [
        PropertyDef("subject", required=True),
        PropertyDef("content"),
        PropertyDef("hs_pipeline", "enumeration"),  # options come from the pipelines
        PropertyDef("hs_pipeline_stage", "enumeration", required=True),
        PropertyDef("hs_ticket_priority", "enumeration", options=("LOW", "MEDIUM", "HIGH", "URGENT")),
        PropertyDef("hs_ticket_category"),
        PropertyDef("source_type", "enumeration", options=("EMAIL", "CHAT", "PHONE", "FORM")),
        PropertyDef("hubspot_owner_id", "number"),
        *_system("createdate", "hs_lastmodifieddate"),
        *_custom(
            PropertyDef("ventanilla_thread_key", unique=True),
            PropertyDef("ventanilla_language"),
            PropertyDef("ventanilla_permalink"),
            PropertyDef("ventanilla_channel"),
            PropertyDef("public_reply"),
        ),
    ]:
        tickets.add(prop)
    notes = ObjectDef(
        "notes",
        "note",
        "0-46",
        "hs_createdate",
        "hs_lastmodifieddate",
        ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
    )
    for prop in [
        PropertyDef("hs_note_body"),
        PropertyDef("hs_timestamp", "datetime", required=True),
        PropertyDef("hubspot_owner_id", "number"),
        *_system("hs_createdate", "hs_lastmodifieddate"),
    ]:
        notes.add(prop)
    return {o.name: o for o in (contacts, companies, tickets, notes)}


# -- ticket pipelines ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stage:
    id: str
    label: str
    ticket_state: str  # OPEN or CLOSED


@dataclass(frozen=True)
class Pipeline:
    id: str
    label: str
    stages: tuple[Stage, ...]

    def stage_ids(self) -> list[str]:
        return [stage.id for stage in self.stages]


DEFAULT_TICKET_PIPELINE = Pipeline(
    "0",
    "Support Pipeline",
    (
        Stage("1", "New", "OPEN"),
        Stage("2", "Waiting on contact", "OPEN"),
        Stage("3", "Waiting on us", "OPEN"),
        Stage("4", "Closed", "CLOSED"),
    ),
)


def describe_stage(stage: Stage, order: int) -> dict[str, object]:
    return {
        "label": stage.label,
        "displayOrder": order,
        "metadata": {"ticketState": stage.ticket_state},
        "id": stage.id,
        "createdAt": format_time(CLOCK_START),
        "updatedAt": format_time(CLOCK_START),
        "archived": False,
        "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
    }


def describe_pipeline(pipeline: Pipeline, order: int) -> dict[str, object]:
    return {
        "label": pipeline.label,
        "displayOrder": order,
        "id": pipeline.id,
        "stages": [describe_stage(stage, index) for index, stage in enumerate(pipeline.stages)],
        "createdAt": format_time(CLOCK_START),
        "updatedAt": format_time(CLOCK_START),
        "archived": False,
    }


# -- association types (HUBSPOT_DEFINED, directional) -------------------------------------------


@dataclass(frozen=True)
class AssociationType:
    from_type: str
    to_type: str
    type_id: int
    name: str  # the v3 ``type`` string, e.g. "ticket_to_contact"
    default: bool  # the type PUT .../associations/default/... creates
    label: str | None = None


ASSOCIATION_TYPES: tuple[AssociationType, ...] = (
    AssociationType("contacts", "companies", 279, "contact_to_company_unlabeled", True),
    AssociationType("contacts", "companies", 1, "contact_to_company", False, "Primary"),
    AssociationType("companies", "contacts", 280, "company_to_contact_unlabeled", True),
    AssociationType("companies", "contacts", 2, "company_to_contact", False, "Primary"),
    AssociationType("tickets", "contacts", 16, "ticket_to_contact", True),
    AssociationType("contacts", "tickets", 15, "contact_to_ticket", True),
    AssociationType("tickets", "companies", 26, "ticket_to_company", True),
    AssociationType("companies", "tickets", 25, "company_to_ticket", True),
    AssociationType("notes", "contacts", 202, "note_to_contact", True),
    AssociationType("contacts", "notes", 201, "contact_to_note", True),
    AssociationType("notes", "companies", 190, "note_to_company", True),
    AssociationType("companies", "notes", 189, "company_to_note", True),
    AssociationType("notes", "tickets", 228, "note_to_ticket", True),
    AssociationType("tickets", "notes", 227, "ticket_to_note", True),
    # Unlabeled ticket ↔ ticket (its own inverse): a crisis's child tickets on their parent.
    AssociationType("tickets", "tickets", 452, "ticket_to_ticket", True),
)


def association_type(type_id: int, from_type: str | None = None) -> AssociationType | None:
    for kind in ASSOCIATION_TYPES:
        if kind.type_id == type_id and (from_type is None or kind.from_type == from_type):
            return kind
    return None


def default_association(from_type: str, to_type: str) -> AssociationType | None:
    for kind in ASSOCIATION_TYPES:
        if kind.from_type == from_type and kind.to_type == to_type and kind.default:
            return kind
    return None


def inverse_association(kind: AssociationType) -> AssociationType | None:
    """The type stored for the other direction (unlabeled ↔ unlabeled, primary ↔ primary)."""
    for other in ASSOCIATION_TYPES:
        if (
            other.from_type == kind.to_type
            and other.to_type == kind.from_type
            and other.default == kind.default
        ):
            return other
    return None
