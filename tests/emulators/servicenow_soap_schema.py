"""ServiceNow tables as the emulator knows them: read from the direct web service WSDL of each table.

The field list and types come from the WSDL's ``getResponse`` element (every column the table returns),
the display field from ``insertResponse`` (the element next to ``sys_id``), the namespace from the
schema's ``targetNamespace``. Nothing else of the WSDL is interpreted: the file is served as it is, with
its ``soap:address`` pointed at the emulator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

XSD = "http://www.w3.org/2001/XMLSchema"
MAPPINGS_DIR = Path(__file__).resolve().parents[2] / "mappings" / "servicenow"
JOURNAL_FIELDS = frozenset({"comments", "work_notes"})
SYSTEM_FIELDS = frozenset({"sys_id", "sys_created_on", "sys_updated_on", "sys_updated_by"})
_ADDRESS = re.compile(r'(<soap:address\s+location=")[^"]*(")')


@dataclass
class TableDef:
    """One table served at ``/<name>.do``: its columns (name → xsd type local name), in WSDL order."""

    name: str
    namespace: str
    fields: dict[str, str]
    display_field: str
    wsdl: str
    journal_fields: frozenset[str] = field(default_factory=frozenset)
    mandatory: list[str] = field(default_factory=list)

    def kind(self, name: str) -> str:
        """``string``, ``integer`` or ``boolean`` (any other xsd type is handled as a string)."""
        xsd_type = self.fields.get(name, "string")
        return xsd_type if xsd_type in ("integer", "boolean") else "string"

    def wsdl_for(self, base_url: str) -> str:
        """The WSDL text with its ``soap:address`` set to ``<base_url>/<table>.do?SOAP``."""
        return _ADDRESS.sub(lambda m: f"{m.group(1)}{base_url}/{self.name}.do?SOAP{m.group(2)}", self.wsdl)


def load_table(name: str, wsdl_path: str | Path | None = None) -> TableDef:
    """Read ``mappings/servicenow/<name>.wsdl`` (or ``wsdl_path``) into a :class:`TableDef`."""
    path = Path(wsdl_path) if wsdl_path is not None else MAPPINGS_DIR / f"{name}.wsdl"
    text = path.read_text(encoding="utf-8")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    root = etree.fromstring(text.encode("utf-8"), parser)
    schema = root.find(f".//{{{XSD}}}schema")
    if schema is None:
        raise ValueError(f"{path}: no xsd:schema")
    namespace = str(schema.get("targetNamespace", ""))
    fields = _sequence(schema, "getResponse")
    if not fields:
        raise ValueError(f"{path}: no getResponse element")
    display = [n for n in _sequence(schema, "insertResponse") if n != "sys_id"]
    return TableDef(
        name=name,
        namespace=namespace,
        fields=fields,
        display_field=display[0] if display else "sys_id",
        wsdl=text,
        journal_fields=JOURNAL_FIELDS & frozenset(fields),
    )


def _sequence(schema: etree._Element, element: str) -> dict[str, str]:
    """Child element names → xsd type local names of a top-level element's sequence."""
    found: dict[str, str] = {}
    for top in schema.findall(f"{{{XSD}}}element"):
        if top.get("name") != element:
            continue
        for child in top.findall(f"{{{XSD}}}complexType/{{{XSD}}}sequence/{{{XSD}}}element"):
            xsd_type = str(child.get("type", "xsd:string"))
            found[str(child.get("name"))] = xsd_type.rpartition(":")[2]
    return found
