"""The ``soap`` block of a mapping: which WSDL operations a SOAP desk is driven by.

One connector serves any WSDL-described desk because the mapping, not the code, says
which operation creates, updates, reads and finds records, with which parameters.
Parameter values are text with placeholders (``{key}``, ``{since}``, ``{field}``,
``{value}``) filled by the connector; each operation accepts only its own placeholders,
so a typo is a validation error, not a query that silently matches everything.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

KeyPath = tuple[str | int, ...]
Problem = tuple[KeyPath, str]

PLACEHOLDER = re.compile(r"\{([A-Za-z_]+)\}")
#: What each operation role may use in its parameters (the record id is added by the connector).
PLACEHOLDERS: dict[str, frozenset[str]] = {
    "create": frozenset(),
    "update": frozenset(),
    "get": frozenset(),
    "find_ticket": frozenset({"key", "keys"}),
    "changed_since": frozenset({"since"}),
    "find_customer": frozenset({"field", "value", "values"}),
}
REQUIRED_ROLES: tuple[str, ...] = ("create", "update", "find_ticket", "changed_since")


@dataclass(frozen=True, slots=True)
class SoapService:
    """One WSDL and binding; ``path`` is joined to the connection's endpoint (the address)."""

    name: str
    wsdl: str  # an absolute file path or an http(s) URL
    binding: str | None = None  # "{namespace}BindingName"; the WSDL's first port when None
    path: str = ""


@dataclass(frozen=True, slots=True)
class PageSpec:
    """How a list operation pages: the first (0-based) and past-the-last row parameters."""

    first_param: str = "__first_row"
    last_param: str = "__last_row"
    size: int = 250


@dataclass(frozen=True, slots=True)
class SoapOperation:
    """One role (create, find_ticket…) played by one WSDL operation with fixed parameters."""

    role: str
    service: str
    operation: str
    params: dict[str, str] = field(default_factory=dict)
    updated_field: str | None = None  # changed_since: the record's last-modified field
    page: PageSpec | None = None

    @property
    def batched(self) -> bool:
        """Whether the operation takes a comma-separated list ({keys} / {values})."""
        return bool({"keys", "values"} & self.placeholders())

    def placeholders(self) -> set[str]:
        return {name for value in self.params.values() for name in PLACEHOLDER.findall(value)}


@dataclass(frozen=True, slots=True)
class SoapSpec:
    """Everything the SOAP connector needs from the mapping."""

    services: dict[str, SoapService]
    operations: dict[str, SoapOperation]
    record_id: str = "sys_id"
    time_format: str = "%Y-%m-%d %H:%M:%S"
    time_zone: str = "UTC"

    def operation(self, role: str) -> SoapOperation | None:
        return self.operations.get(role)


def fill(template: str, values: dict[str, str]) -> str:
    """Replace ``{name}`` placeholders (validated beforehand, so every name is known)."""
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def soap_problems(data: dict[str, Any]) -> Iterator[Problem]:
    """What the schema cannot check: roles naming unknown services, unknown placeholders."""
    soap = data.get("soap")
    if data.get("connector") == "soap" and soap is None:
        yield ("soap",), "required for soap mappings: the WSDL services and the operations to call"
    if data.get("connector") != "soap" and soap is not None:
        yield ("soap",), f"only soap mappings have a soap block (this one is for {data.get('connector')!r})"
    if not isinstance(soap, dict):
        return
    services: dict[str, Any] = soap["services"] if isinstance(soap.get("services"), dict) else {}
    operations = soap.get("operations")
    if not isinstance(operations, dict):
        return
    for role, spec in operations.items():
        if not isinstance(spec, dict):
            continue
        service = spec.get("service")
        if isinstance(service, str) and service not in services:
            known = ", ".join(sorted(services)) or "none"
            yield ("soap", "operations", role, "service"), f"unknown service {service!r} (services: {known})"
        allowed = PLACEHOLDERS.get(role, frozenset())
        params: dict[str, Any] = spec["params"] if isinstance(spec.get("params"), dict) else {}
        for name, value in params.items():
            for used in PLACEHOLDER.findall(str(value)):
                if used not in allowed:
                    offer = ", ".join("{" + a + "}" for a in sorted(allowed)) or "none"
                    yield (
                        ("soap", "operations", role, "params", name),
                        f"unknown placeholder {{{used}}} for {role} (allowed: {offer})",
                    )
        needed = {
            "find_ticket": ("key", "keys"),
            "changed_since": ("since",),
            "find_customer": ("value", "values"),
        }
        names = needed.get(role, ())
        used = {name for value in params.values() for name in PLACEHOLDER.findall(str(value))}
        if names and not used & set(names):
            wanted = " or ".join("{" + n + "}" for n in names)
            yield (("soap", "operations", role, "params"), f"{role} must use {wanted} in a parameter")
        if len(used & set(names)) > 1:
            yield (
                ("soap", "operations", role, "params"),
                f"{role} uses both {{{names[0]}}} and {{{names[1]}}}",
            )
    zone = soap.get("time_zone")
    if isinstance(zone, str):
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            yield (
                ("soap", "time_zone"),
                f"unknown time zone {zone!r} (use an IANA name such as Europe/Madrid)",
            )
    matching = data.get("customer_match")
    if (
        data.get("connector") == "soap"
        and isinstance(matching, list)
        and matching
        and "find_customer" not in operations
    ):
        yield ("soap", "operations"), "customer_match needs a find_customer operation"


def build_soap_spec(data: dict[str, Any], mapping_dir: Path) -> SoapSpec:
    """Build the validated block; WSDL paths are resolved against the mapping file's folder."""
    services = {}
    for name, spec in data["services"].items():
        wsdl = str(spec["wsdl"])
        if not re.match(r"^https?://", wsdl):
            wsdl = str((mapping_dir / wsdl).resolve())
        services[name] = SoapService(name, wsdl, spec.get("binding"), str(spec.get("path", "")))
    operations = {}
    for role, spec in data["operations"].items():
        page = spec.get("page")
        paging = (
            PageSpec(page.get("first", "__first_row"), page.get("last", "__last_row"), page.get("size", 250))
            if page is not None
            else None
        )
        operations[role] = SoapOperation(
            role=role,
            service=spec["service"],
            operation=spec["operation"],
            params={name: _text(value) for name, value in spec.get("params", {}).items()},
            updated_field=spec.get("updated_field"),
            page=paging,
        )
    return SoapSpec(
        services=services,
        operations=operations,
        record_id=data.get("record_id", "sys_id"),
        time_format=data.get("time_format", "%Y-%m-%d %H:%M:%S"),
        time_zone=data.get("time_zone", "UTC"),
    )


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
