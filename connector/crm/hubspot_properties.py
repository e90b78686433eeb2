"""Check a HubSpot mapping against the portal's property definitions.

The offline loader cannot know a portal's properties; ``ventanilla mappings validate
--live`` reads ``GET /crm/v3/properties/{objectType}`` once per object the mapping
touches (tickets, contacts, notes, and companies when a value comes from them) and
reports every problem as ``key: problem``, like the loader does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from connector.config import Config
from connector.crm.connection_settings import MemoryState, connection_for
from connector.crm.hubspot_client import HubSpotClient, RefusedError
from connector.crm.hubspot_customers import COMPANY, DEFAULT_PROPERTIES
from connector.crm.hubspot_settings import load_settings
from mappings import Mapping

#: The property definitions of an object type by name, or None when the portal has no such object.
Describe = Callable[[str], dict[str, dict[str, Any]] | None]


def _read_only(prop: dict[str, Any]) -> bool:
    return bool((prop.get("modificationMetadata") or {}).get("readOnlyValue"))


def _check(
    describe: Describe, key: str, object_type: str, name: str, *, write: bool = False, unique: bool = False
) -> Iterator[str]:
    props = describe(object_type)
    if props is None:
        yield f"{key}: no such object {object_type}"
        return
    prop = props.get(name)
    if prop is None:
        yield f"{key}: no property {name} on {object_type}"
        return
    if write and _read_only(prop):
        yield f"{key}: {object_type}.{name} is read-only"
    if unique and not prop.get("hasUniqueValue"):
        yield f"{key}: {object_type}.{name} does not require unique values"


def _options(describe: Describe, key: str, object_type: str, name: str, values: list[Any]) -> Iterator[str]:
    """Values written to a dropdown must be among its options (pipelines have their own API)."""
    prop = (describe(object_type) or {}).get(name)
    if not prop or prop.get("type") != "enumeration" or name in ("hs_pipeline", "hs_pipeline_stage"):
        return
    options = [str(o.get("value")) for o in prop.get("options") or [] if isinstance(o, dict)]
    for value in dict.fromkeys(str(v) for v in values if v is not None):
        if value not in options:
            yield f"{key}: {value} is not an option of {object_type}.{name} ({', '.join(options)})"


def live_problems(mapping: Mapping, describe: Describe) -> list[str]:
    """Every property problem of ``mapping`` on the portal behind ``describe``."""
    return list(dict.fromkeys(_problems(mapping, describe)))


def _problems(mapping: Mapping, describe: Describe) -> Iterator[str]:
    tickets = mapping.object
    for name, spec in mapping.fields.items():
        key = f"fields.{name}"
        yield from _check(describe, key, tickets, name, write=True)
        values = (
            [spec.constant] if spec.kind == "constant" else [*(spec.value_map or {}).values(), spec.default]
        )
        yield from _options(describe, key, tickets, name, values)
    for name in mapping.writable_fields:
        if name not in mapping.fields:
            yield from _check(describe, f"writable_fields.{name}", tickets, name, write=True)
    target = mapping.target
    if target is not None:
        if target.key_field:
            yield from _check(
                describe, "target.key_field", tickets, target.key_field, write=True, unique=True
            )
        yield from _check(describe, "target.status_field", tickets, target.status_field, write=True)
        yield from _check(describe, "target.number_field", tickets, target.number_field)
        followup = target.followup
        yield from _check(
            describe, "target.followup.body_field", followup.object, followup.body_field, write=True
        )
        for name in followup.fields:
            yield from _check(describe, f"target.followup.fields.{name}", followup.object, name, write=True)
    if mapping.reply_field:
        yield from _check(describe, "reply.field", tickets, mapping.reply_field)
    for index, strategy in enumerate(mapping.customer_match):
        name = strategy.field or DEFAULT_PROPERTIES[strategy.strategy]
        yield from _check(
            describe, f"customer_match[{index}].field", "contacts", name, unique=strategy.unique
        )
    value = mapping.customer_value
    for key, path in (
        ("field", value.field if value else None),
        ("tier_field", value.tier_field if value else None),
    ):
        if path:
            object_type = "companies" if path.startswith(COMPANY) else "contacts"
            yield from _check(describe, f"customer_value.{key}", object_type, path.removeprefix(COMPANY))


def check_mapping_live(config: Config, mapping: Mapping, mapping_path: Path) -> list[str]:
    """Read the property definitions of the mapping's connection and return ``key: problem`` lines."""
    settings = load_settings(
        config.connections, connection_for(config, "hubspot", mapping_path), Path(config.base_dir)
    )
    client = HubSpotClient(settings, MemoryState(), "hubspot:validate")
    cache: dict[str, dict[str, dict[str, Any]] | None] = {}

    def describe(object_type: str) -> dict[str, dict[str, Any]] | None:
        if object_type not in cache:
            try:
                cache[object_type] = {str(p.get("name")): p for p in client.properties(object_type)}
            except RefusedError:  # 400/404: the portal has no such object
                cache[object_type] = None
        return cache[object_type]

    return live_problems(mapping, describe)
