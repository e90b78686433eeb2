"""Check a Salesforce mapping against the org's describe: fields exist and can be written.

The offline loader cannot know an org's fields; ``ventanilla mappings validate --live``
reads the describe of each object the mapping touches (one request per object) and
reports every problem as ``key: problem``, like the loader does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from connector.config import Config
from connector.crm.base import PermanentConnectorError
from connector.crm.connection_settings import MemoryState, connection_for
from connector.crm.salesforce_client import SalesforceClient
from connector.crm.salesforce_customers import PERSONA
from connector.crm.salesforce_settings import load_settings
from connector.crm.salesforce_soql import soql_name
from mappings import Mapping

#: The describe of an object, or None when the org has no such object.
Describe = Callable[[str], dict[str, Any] | None]


class _Objects:
    """Describes fetched once per object, with field lookups by name (case-insensitive)."""

    def __init__(self, describe: Describe) -> None:
        self.describe = describe
        self.cache: dict[str, dict[str, dict[str, Any]] | None] = {}

    def fields(self, sobject: str) -> dict[str, dict[str, Any]] | None:
        if sobject not in self.cache:
            answer = self.describe(sobject)
            self.cache[sobject] = (
                None if answer is None else {str(f["name"]).lower(): f for f in answer.get("fields", [])}
            )
        return self.cache[sobject]

    def field(self, sobject: str, path: str) -> tuple[str, dict[str, Any] | None]:
        """Follow ``Account.AnnualRevenue`` through relationship names; (object, field or None)."""
        *relations, name = path.split(".")
        for relation in relations:
            lookup = next(
                (
                    f
                    for f in (self.fields(sobject) or {}).values()
                    if str(f.get("relationshipName") or "").lower() == relation.lower()
                    and f.get("referenceTo")
                ),
                None,
            )
            if lookup is None:
                return sobject, None
            sobject = str(lookup["referenceTo"][0])
        return sobject, (self.fields(sobject) or {}).get(name.lower())


def live_problems(mapping: Mapping, describe: Describe) -> list[str]:
    """Every field problem of ``mapping`` on the org behind ``describe``."""
    objects = _Objects(describe)
    return list(_problems(mapping, objects))


def _check(objects: _Objects, key: str, sobject: str, path: str, *needs: str) -> Iterator[str]:
    try:
        soql_name(path)
    except ValueError as exc:
        yield f"{key}: {exc}"
        return
    if objects.fields(sobject) is None:
        yield f"{key}: no such object {sobject}"
        return
    owner, field = objects.field(sobject, path)
    if field is None:
        yield f"{key}: no such field on {owner if '.' in path else sobject}"
        return
    for need in needs:
        if not field.get(need):
            word = {"externalId": "an External ID field", "filterable": "filterable in SOQL"}.get(need, need)
            yield f"{key}: {owner}.{field['name']} is not {word}"


def _problems(mapping: Mapping, objects: _Objects) -> Iterator[str]:
    case = mapping.object
    for name in mapping.fields:
        yield from _check(objects, f"fields.{name}", case, name, "createable", "updateable")
    for name in mapping.writable_fields:
        if name not in mapping.fields:
            yield from _check(objects, f"writable_fields.{name}", case, name, "createable")
    target = mapping.target
    if target is not None:
        if target.key_field:
            key_needs = ("createable", "updateable", "externalId")
            yield from _check(objects, "target.key_field", case, target.key_field, *key_needs)
        yield from _check(objects, "target.status_field", case, target.status_field, "updateable")
        yield from _check(objects, "target.number_field", case, target.number_field)
        spec = target.followup
        for key, name in (("parent_field", spec.parent_field), ("body_field", spec.body_field)):
            yield from _check(objects, f"target.followup.{key}", spec.object, name, "createable")
        for name in spec.fields:
            yield from _check(objects, f"target.followup.fields.{name}", spec.object, name, "createable")
    if mapping.reply_field:
        yield from _check(objects, "reply.field", case, mapping.reply_field)
    for index, strategy in enumerate(mapping.customer_match):
        if strategy.field and strategy.field != PERSONA:
            yield from _check(
                objects, f"customer_match[{index}].field", "Contact", strategy.field, "filterable"
            )
    value = mapping.customer_value
    if value is not None:
        yield from _check(objects, "customer_value.field", "Contact", value.field)
        if value.tier_field:
            yield from _check(objects, "customer_value.tier_field", "Contact", value.tier_field)


def check_mapping_live(config: Config, mapping: Mapping, mapping_path: Path) -> list[str]:
    """Describe the org of the mapping's connection and return ``key: problem`` lines."""
    settings = load_settings(
        config.connections, connection_for(config, "salesforce", mapping_path), Path(config.base_dir)
    )
    client = SalesforceClient(settings, MemoryState(), "salesforce:validate")

    def describe(sobject: str) -> dict[str, Any] | None:
        try:
            return client.describe(sobject)
        except PermanentConnectorError:  # 404 NOT_FOUND: the org has no such object
            return None

    return list(dict.fromkeys(live_problems(mapping, describe)))
