"""``ventanilla mappings validate --live`` for SOAP desks: check the mapping against its WSDLs.

Every role's operation must exist in its binding and take the parameters the connector
will send; the fields it reads back must be in the answer; fields named in an encoded
query must exist, because ServiceNow silently ignores a condition on an unknown field
(a lookup by thread key would then match other incidents).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from connector.config import Config
from connector.crm.base import ConnectorError
from connector.crm.connection_settings import MemoryState, connection_for
from connector.crm.soap_client import SoapClient
from connector.crm.soap_customers import strategy_field
from connector.crm.soap_settings import load_settings
from mappings import Mapping
from mappings.soap_spec import SoapOperation, SoapSpec

# "^" joins conditions; each may start with OR / NQ and names its field first.
_OPERATORS = (
    "NOT IN|ISNOTEMPTY|ISEMPTY|STARTSWITH|ENDSWITH|NOTLIKE|LIKE|EMPTYSTRING|ANYTHING|BETWEEN|NSAMEAS|SAMEAS|"
    "NOTON|ON|DATEPART|RELATIVE[A-Z]*|VALCHANGES|CHANGESFROM|CHANGESTO|MORETHAN|LESSTHAN|IN|!=|>=|<=|=|>|<"
)
_CONDITION_FIELD = re.compile(rf"^(?:OR|NQ)?([A-Za-z_][A-Za-z0-9_]*?)(?:{_OPERATORS})")
_ORDER = re.compile(r"^ORDERBY(?:DESC)?([A-Za-z_][A-Za-z0-9_]*)$")


def check_mapping_live(config: Config, mapping: Mapping, mapping_path: Path) -> list[str]:
    """Load the mapping's WSDLs with its connection and return ``key: problem`` lines."""
    connection = connection_for(config, "soap", mapping_path)
    settings = load_settings(config.connections, connection, Path(config.base_dir))
    assert mapping.soap is not None  # a soap mapping always has its block (validated)
    client = SoapClient(settings, mapping.soap.services, MemoryState(), "soap:validate", connection)
    return list(live_problems(mapping, client))


def live_problems(mapping: Mapping, client: SoapClient) -> Iterator[str]:
    spec = mapping.soap
    assert spec is not None
    operations: dict[str, Any] = {}
    for name, service in spec.services.items():
        try:
            bindings = client.client(name).wsdl.bindings
        except ConnectorError as exc:
            yield f"soap.services.{name}.wsdl: {exc}"
            continue
        binding = service.binding or next(iter(bindings), None)
        if binding not in bindings:
            yield f"soap.services.{name}.binding: {binding} is not in the WSDL (it has {', '.join(bindings)})"
            continue
        operations[name] = bindings[binding]._operations
    for role, operation in spec.operations.items():
        if operation.service not in operations:
            continue
        found = operations[operation.service].get(operation.operation)
        where = f"soap.operations.{role}"
        if found is None:
            known = ", ".join(sorted(operations[operation.service]))
            yield f"{where}.operation: {operation.operation} is not in {operation.service} ({known})"
            continue
        inputs, outputs = _fields(found.input.body), _fields(found.output.body)
        for param in sorted(_sent(role, operation, mapping, spec) - inputs):
            yield f"{where}: {operation.operation} takes no parameter {param!r}"
        for field in sorted(_read(role, mapping, spec) - outputs):
            yield f"{where}: {operation.operation}'s answer has no field {field!r}"
        for field in sorted(_queried(operation, mapping) - outputs):
            yield f"{where}.params: the query names {field!r}, which the records do not have"


def _fields(element: Any) -> set[str]:
    """Child element names; a single repeated or complex child (a result list) is looked into."""
    children = list(getattr(getattr(element, "type", None), "elements", []) or [])
    if len(children) == 1 and hasattr(children[0][1].type, "elements"):
        return {name for name, _ in children[0][1].type.elements}
    return {name for name, _ in children}


def _sent(role: str, operation: SoapOperation, mapping: Mapping, spec: SoapSpec) -> set[str]:
    """Every parameter the connector sends for a role."""
    sent = set(operation.params)
    target = mapping.target
    if role == "create":
        sent |= set(mapping.fields) | ({target.key_field} if target and target.key_field else set())
    elif role == "update" and target is not None:
        sent |= {spec.record_id, target.status_field, target.followup.body_field, *target.followup.fields}
        sent |= {target.parent_field} if target.parent_field else set()
    elif role == "get":
        sent.add(spec.record_id)
    elif role == "changed_since" and operation.page is not None:
        sent |= {operation.page.first_param, operation.page.last_param}
    return sent


def _read(role: str, mapping: Mapping, spec: SoapSpec) -> set[str]:
    """Every field the connector reads from a role's answer."""
    target = mapping.target
    if target is None:
        return set()
    if role == "create":
        return {spec.record_id}
    if role == "find_ticket":
        return {spec.record_id, target.key_field or spec.record_id, target.status_field}
    if role == "changed_since":
        updated = spec.operation("changed_since")
        return {
            spec.record_id,
            target.key_field or spec.record_id,
            target.status_field,
            (updated.updated_field if updated else None) or "sys_updated_on",
        }
    if role == "get":
        return {target.number_field} | ({mapping.reply_field} if mapping.reply_field else set())
    if role == "find_customer":
        value = mapping.customer_value
        fields = {strategy_field(s, "validate") for s in mapping.customer_match} | {spec.record_id}
        if value is not None:
            fields |= {value.field} | ({value.tier_field} if value.tier_field else set())
        return fields
    return set()


def _queried(operation: SoapOperation, mapping: Mapping) -> set[str]:
    """Field names in ``__encoded_query`` conditions ({field} stands for each strategy's field)."""
    query = operation.params.get("__encoded_query")
    if not query:
        return set()
    fields: set[str] = set()
    texts = [query]
    if "{field}" in query:
        texts = [query.replace("{field}", strategy_field(s, "validate")) for s in mapping.customer_match]
    for text in texts:
        for condition in text.split("^"):
            order = _ORDER.match(condition)
            found = order or _CONDITION_FIELD.match(condition)
            if found and condition not in ("OR", "NQ") and not condition.startswith("{"):
                fields.add(found.group(1))
    return fields
