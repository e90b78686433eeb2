"""The six operations of the ServiceNow direct web service, from a parsed call to the answer's bytes."""

from __future__ import annotations

from dataclasses import dataclass

from tests.emulators.servicenow_soap_schema import TableDef
from tests.emulators.servicenow_soap_store import Instance, visible_fields
from tests.emulators.servicenow_soap_xml import ResponseStyle, SoapCall, SoapError, records_response, response

OPERATIONS = ("insert", "update", "get", "getRecords", "getKeys", "deleteRecord")


@dataclass(frozen=True)
class Options:
    style: ResponseStyle = "prefixed"
    max_rows: int = 250  # getRecords rows per call unless the caller asks for a limit or window
    hard_cap: bool = False  # max_rows even then
    invalid_returns_none: bool = False  # glide.invalid_query.returns_no_rows


def execute(instance: Instance, table: TableDef, call: SoapCall, user: str, options: Options) -> bytes:
    """Carry out ``call`` on ``table`` (the caller holds the emulator's lock); SoapError becomes a Fault."""
    op, params, style, ns = call.operation, call.params, options.style, table.namespace
    values = {name: (v[-1] if isinstance(v, list) else v) for name, v in params.items()}
    if op not in OPERATIONS:
        raise SoapError(f"No such operation: {op}", "SOAP-ENV:Client")
    if op == "insert":
        record = instance.insert(table.name, values, user)
        answer = [("sys_id", record["sys_id"])]
        if table.display_field != "sys_id":
            answer.append((table.display_field, record.get(table.display_field, "")))
        return response(op, ns, answer, style)
    if op in ("getRecords", "getKeys"):
        rows = instance.query(
            table.name,
            params,
            cap=options.max_rows if op == "getRecords" else None,
            invalid_returns_none=options.invalid_returns_none,
            hard_cap=options.hard_cap,
        )
        if op == "getKeys":
            keys = ",".join(r["sys_id"] for r in rows)
            return response(op, ns, [("sys_id", keys), ("count", str(len(rows)))], style)
        exclude = frozenset(c.strip() for c in values.get("__exclude_columns", "").split(","))
        return records_response(ns, [visible_fields(table, r, exclude) for r in rows], style)
    sys_id = values.get("sys_id", "").strip()
    if not sys_id:
        raise SoapError(f"{op}: the sys_id element is required", "SOAP-ENV:Client")
    if op == "update":
        instance.update(table.name, sys_id, values, user)
        return response(op, ns, [("sys_id", sys_id)], style)
    if op == "get":
        found = instance.table(table.name).records.get(sys_id)
        return response(op, ns, visible_fields(table, found) if found else [], style)
    deleted = instance.delete(table.name, sys_id)
    return response(op, ns, [("count", "1" if deleted else "0")], style)
