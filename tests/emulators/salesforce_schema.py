"""Salesforce emulator: record ids, value formats, field metadata and the default org schema."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

CLOCK_START = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)

_SUFFIX_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ID15 = re.compile(r"[A-Za-z0-9]{15}")
_ID18 = re.compile(r"[A-Za-z0-9]{18}")
_ISO_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:?\d{2})?"
)

STRING_TYPES = frozenset({"string", "textarea", "picklist", "email", "url", "phone", "combobox"})
NUMBER_TYPES = frozenset({"double", "currency", "percent", "int"})
SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "int": "xsd:int",
    "datetime": "xsd:dateTime",
    "date": "xsd:date",
}


def id_suffix(id15: str) -> str:
    """Return the documented 3-character case-safe suffix of a 15-character id."""
    suffix = ""
    for start in (0, 5, 10):
        bits = sum(1 << i for i, ch in enumerate(id15[start : start + 5]) if "A" <= ch <= "Z")
        suffix += _SUFFIX_CHARS[bits]
    return suffix


def normalize_id(value: str) -> str | None:
    """Return the 18-character form of a 15- or 18-character id, or None when malformed."""
    if _ID15.fullmatch(value):
        return value + id_suffix(value)
    if _ID18.fullmatch(value) and value[15:].upper() == id_suffix(value[:15]):
        return value[:15] + id_suffix(value[:15])
    return None


def make_id(prefix: str, number: int) -> str:
    """Build an 18-character id: key prefix, pod ``RO``, a reserved 0, base-62 counter, suffix."""
    digits = ""
    while number:
        number, rest = divmod(number, 62)
        digits = _BASE62[rest] + digits
    id15 = prefix + "RO0" + digits.rjust(9, "0")
    return id15 + id_suffix(id15)


def format_datetime(moment: datetime) -> str:
    """Format a datetime the way the REST API returns it: ``2026-11-23T10:00:00.000+0000``."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def parse_datetime(text: str) -> datetime | None:
    """Parse the ISO 8601 forms the API accepts in JSON bodies (zone optional: UTC)."""
    match = _ISO_DATETIME.fullmatch(text)
    if not match:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction, zone = match.group(7), match.group(8)
    micros = int((fraction[1:] + "000000")[:6]) if fraction else 0
    offset = timedelta(0)
    if zone and zone not in ("Z", "z"):
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        offset = -offset if zone[0] == "-" else offset
    try:
        naive = datetime(year, month, day, hour, minute, second, micros)
    except ValueError:
        return None
    return (naive - offset).replace(tzinfo=UTC)


def parse_date(text: str) -> date | None:
    """Parse ``YYYY-MM-DD``."""
    try:
        return date.fromisoformat(text) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) else None
    except ValueError:
        return None


@dataclass
class FieldDef:
    """Field metadata, the subset of a describe ``fields`` entry the emulator enforces."""

    name: str
    type: str = "string"
    label: str = ""
    length: int = 0
    createable: bool = True
    updateable: bool = True
    nillable: bool = True
    external_id: bool = False
    unique: bool = False
    case_sensitive: bool = False
    picklist: tuple[str, ...] = ()
    restricted: bool = False
    default: Any = None
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    filterable: bool = True
    sortable: bool = True
    calculated: bool = False
    auto_number: bool = False
    defaulted_on_create: bool = False
    id_lookup: bool = False
    precision: int = 0
    scale: int = 0

    @property
    def required(self) -> bool:
        """Whether a create without this field fails with REQUIRED_FIELD_MISSING."""
        return (
            self.createable
            and not self.nillable
            and not self.defaulted_on_create
            and self.default is None
            and self.type != "boolean"
        )

    def describe(self) -> dict[str, Any]:
        """Render this field as an entry of the describe ``fields`` array."""
        is_text = self.type in STRING_TYPES or self.type in ("id", "reference")
        return {
            "aggregatable": self.sortable,
            "autoNumber": self.auto_number,
            "byteLength": self.length * 3 if is_text else 0,
            "calculated": self.calculated,
            "caseSensitive": self.case_sensitive,
            "createable": self.createable,
            "custom": self.name.endswith("__c"),
            "defaultValue": self.default if self.type != "picklist" else None,
            "defaultedOnCreate": self.defaulted_on_create or self.default is not None,
            "externalId": self.external_id,
            "filterable": self.filterable,
            "groupable": self.sortable and self.type not in NUMBER_TYPES,
            "idLookup": self.id_lookup or self.external_id or self.type == "id",
            "label": self.label,
            "length": self.length if is_text else 0,
            "name": self.name,
            "nameField": self.name == "Name",
            "nillable": self.nillable,
            "picklistValues": [
                {
                    "active": True,
                    "defaultValue": value == self.default,
                    "label": value,
                    "validFor": None,
                    "value": value,
                }
                for value in self.picklist
            ],
            "precision": self.precision,
            "referenceTo": list(self.reference_to),
            "relationshipName": self.relationship_name,
            "restrictedPicklist": self.restricted,
            "scale": self.scale,
            "soapType": SOAP_TYPES.get(self.type, "xsd:string"),
            "sortable": self.sortable,
            "type": self.type,
            "unique": self.unique,
            "updateable": self.updateable,
        }


# describe_field(**props) takes describe-style (camelCase) names; map them onto FieldDef.
DESCRIBE_PROPS = {
    "type": "type",
    "label": "label",
    "length": "length",
    "createable": "createable",
    "updateable": "updateable",
    "nillable": "nillable",
    "externalId": "external_id",
    "unique": "unique",
    "caseSensitive": "case_sensitive",
    "picklistValues": "picklist",
    "restrictedPicklist": "restricted",
    "defaultValue": "default",
    "referenceTo": "reference_to",
    "relationshipName": "relationship_name",
    "filterable": "filterable",
    "sortable": "sortable",
    "calculated": "calculated",
    "autoNumber": "auto_number",
    "defaultedOnCreate": "defaulted_on_create",
    "idLookup": "id_lookup",
    "precision": "precision",
    "scale": "scale",
}
_FIELD_ATTRS = {f.name for f in fields(FieldDef)}


def field_from_props(name: str, existing: FieldDef | None, props: dict[str, Any]) -> FieldDef:
    """Create or update a field from describe-style keyword properties."""
    changes: dict[str, Any] = {}
    for key, value in props.items():
        attr = DESCRIBE_PROPS.get(key, key if key in _FIELD_ATTRS else None)
        if attr is None or attr == "name":
            raise TypeError(f"unknown field property {key!r}; use describe names: {sorted(DESCRIBE_PROPS)}")
        if attr == "picklist":
            value = tuple(v["value"] if isinstance(v, dict) else str(v) for v in value)
        elif attr == "reference_to":
            value = tuple(value)
        changes[attr] = value
    base = existing or FieldDef(name=name, label=name.removesuffix("__c").replace("_", " "))
    updated = replace(base, **changes)
    if not updated.length and updated.type in STRING_TYPES and existing is None:
        updated.length = 32768 if updated.type == "textarea" else 255
    return updated


@dataclass
class SObjectDef:
    """One sObject type: its key prefix and ordered fields."""

    name: str
    label: str
    label_plural: str
    key_prefix: str
    fields: dict[str, FieldDef] = field(default_factory=dict)

    def field(self, name: str) -> FieldDef | None:
        """Look a field up case-insensitively, as the API does."""
        found = self.fields.get(name)
        if found is not None:
            return found
        lowered = name.lower()
        return next((f for key, f in self.fields.items() if key.lower() == lowered), None)

    def relationship(self, name: str) -> FieldDef | None:
        """Return the lookup field whose relationshipName matches ``name`` (case-insensitive)."""
        lowered = name.lower()
        return next(
            (
                f
                for f in self.fields.values()
                if f.relationship_name and f.relationship_name.lower() == lowered
            ),
            None,
        )

    def describe(self, version: str) -> dict[str, Any]:
        """Render ``GET /sobjects/{type}/describe``."""
        base = f"/services/data/v{version}/sobjects/{self.name}"
        return {
            "activateable": False,
            "childRelationships": [],
            "createable": True,
            "custom": self.name.endswith("__c"),
            "customSetting": False,
            "deletable": True,
            "deprecatedAndHidden": False,
            "feedEnabled": False,
            "fields": [f.describe() for f in self.fields.values()],
            "keyPrefix": self.key_prefix,
            "label": self.label,
            "labelPlural": self.label_plural,
            "layoutable": True,
            "mergeable": False,
            "name": self.name,
            "queryable": True,
            "recordTypeInfos": [],
            "replicateable": True,
            "retrieveable": True,
            "searchable": True,
            "triggerable": True,
            "undeletable": True,
            "updateable": True,
            "urls": self.urls(version) | {"describe": f"{base}/describe"},
        }

    def urls(self, version: str) -> dict[str, str]:
        base = f"/services/data/v{version}/sobjects/{self.name}"
        return {"sobject": base, "rowTemplate": base + "/{ID}", "describe": f"{base}/describe"}
