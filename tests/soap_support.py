"""Shared helpers for the SOAP connector tests: the emulator's account and a connector on it."""

from __future__ import annotations

from typing import Any

from connector.crm.soap import SoapConnector
from connector.crm.soap_settings import SoapSettings
from connector.store import Store
from mappings import Mapping, load_mapping
from tests.emulators.servicenow_soap import ServiceNowSoapEmulator

USER, PASSWORD = "integration.user", "s3cret-Pa55word"
# sys_user fields of the shipped mapping, per platform and identity.
SOCIAL_FIELDS: dict[tuple[str, str], str] = {
    ("x", "id"): "u_x_user_id",
    ("facebook", "id"): "u_facebook_id",
    ("x", "handle"): "u_x_handle",
    ("instagram", "handle"): "u_instagram_handle",
}


def start_emulator(**options: Any) -> ServiceNowSoapEmulator:
    emulator = ServiceNowSoapEmulator(**options).start()
    emulator.add_user(USER, PASSWORD)
    return emulator


def connection(emulator: ServiceNowSoapEmulator, **overrides: Any) -> dict[str, Any]:
    """The ``connections.<name>`` block for the emulator (fast retries for tests)."""
    data: dict[str, Any] = {
        "endpoint": emulator.base_url + "/",
        "username": USER,
        "password": PASSWORD,
        "timeout_s": 5,
        "retries": 3,
        "retry_initial_s": 0.01,
        "retry_max_s": 0.05,
        "identity_cache_ttl_s": 0,
    }
    if emulator.ca_path:
        data["ca_bundle"] = emulator.ca_path
    data.update(overrides)
    return data


def settings(emulator: ServiceNowSoapEmulator, **overrides: Any) -> SoapSettings:
    return SoapSettings.model_validate(connection(emulator, **overrides))


def connector(
    store: Store,
    emulator: ServiceNowSoapEmulator,
    mapping: Mapping | None = None,
    desk: str = "support",
    **overrides: Any,
) -> SoapConnector:
    return SoapConnector(
        store, desk, mapping or load_mapping("servicenow.yaml"), settings(emulator, **overrides)
    )


def seed_person(
    emulator: ServiceNowSoapEmulator,
    platform: str,
    user_id: str | None = None,
    handle: str | None = None,
    email: str | None = None,
    **fields: Any,
) -> str:
    """A sys_user known by these identities, as an administrator would create it."""
    values: dict[str, Any] = {"name": "Seeded Person", "active": "true", **fields}
    if email:
        values["email"] = email
    if user_id:
        values[SOCIAL_FIELDS[(platform, "id")]] = user_id
    if handle:
        values[SOCIAL_FIELDS[(platform, "handle")]] = handle
    return emulator.add_record("sys_user", values)
