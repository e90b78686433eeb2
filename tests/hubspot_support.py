"""Helpers for tests that drive the HubSpot connector against the emulator (hubspot-api-client over HTTPS)."""

from __future__ import annotations

from typing import Any

from connector.crm.hubspot import HubSpotConnector
from connector.crm.hubspot_settings import HubSpotSettings
from connector.store import Store
from mappings import Mapping, load_mapping
from tests.emulators.hubspot import HubSpotEmulator

TOKEN = "pat-na1-0d1c2b3a-test-token"
CLIENT_SECRET = "hubspot-app-secret-0123456789"


def connection(emulator: HubSpotEmulator, **overrides: Any) -> dict[str, Any]:
    """``connections.hubspot`` for the emulator (its CA bundle, fast retries, HubSpot's default limits)."""
    data: dict[str, Any] = {
        "base_url": emulator.base_url,
        "access_token": TOKEN,
        "client_secret": CLIENT_SECRET,
        "portal_id": emulator.portal_id,
        "ca_bundle": emulator.ca_path,
        "timeout_s": 5,
        "retry_initial_s": 0.01,
        "retry_max_s": 0.05,
    }
    data.update(overrides)
    return data


def settings(emulator: HubSpotEmulator, **overrides: Any) -> HubSpotSettings:
    return HubSpotSettings.model_validate(connection(emulator, **overrides))


def connector(
    store: Store,
    emulator: HubSpotEmulator,
    mapping: Mapping | None = None,
    desk: str = "support",
    **overrides: Any,
) -> HubSpotConnector:
    return HubSpotConnector(
        store, desk, mapping or load_mapping("hubspot.yaml"), settings(emulator, **overrides)
    )


def paths(emulator: HubSpotEmulator) -> list[tuple[str, str, int]]:
    """(method, path, status) of every request the emulator answered, in order."""
    return [(e.method, e.path.split("?")[0], e.status) for e in emulator.request_log]


def bodies(emulator: HubSpotEmulator, path_contains: str) -> list[Any]:
    """The JSON bodies sent to paths containing ``path_contains``, in order."""
    return [e.body for e in emulator.requests_to(path_contains)]
