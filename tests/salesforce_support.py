"""Helpers for tests that drive the Salesforce connector against the HTTPS emulator."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from connector.crm.base import TicketDraft
from connector.crm.salesforce import SalesforceConnector
from connector.crm.salesforce_settings import SalesforceSettings
from connector.model import Author, Customer, Interaction
from connector.store import Store
from mappings import Mapping, build_context, load_mapping, render_fields
from tests.emulators.salesforce import SalesforceEmulator

CLIENT_ID = "3MVG9ventanilla.test.client"
CLIENT_SECRET = "s3cr3t-client-0123456789"
BRAND = "2244994945"
_ids = itertools.count(1)


def connection(emulator: SalesforceEmulator, **overrides: Any) -> dict[str, Any]:
    """``connections.salesforce`` for the emulator (client credentials, its CA bundle, fast retries)."""
    data: dict[str, Any] = {
        "token_url": emulator.token_url,
        "auth": "client_credentials",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "ca_bundle": emulator.ca_path,
        "organization_id": emulator.org_id,
        "timeout_s": 5,
        "retry_initial_s": 0.01,
        "retry_max_s": 0.05,
    }
    data.update(overrides)
    return data


def settings(emulator: SalesforceEmulator, **overrides: Any) -> SalesforceSettings:
    return SalesforceSettings.model_validate(connection(emulator, **overrides))


def connector(
    store: Store,
    emulator: SalesforceEmulator,
    mapping: Mapping | None = None,
    desk: str = "support",
    **overrides: Any,
) -> SalesforceConnector:
    return SalesforceConnector(
        store, desk, mapping or load_mapping("salesforce.yaml"), settings(emulator, **overrides)
    )


def rsa_pem_pair() -> tuple[str, str]:
    """A fresh RSA key: (private key PEM, public key PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def interaction(
    platform: str = "x",
    user_id: str = "6253282",
    handle: str | None = "marta_rg",
    text: str = "where is my order?",
    kind: str = "mention",
    thread: str | None = None,
    external_id: str | None = None,
    **overrides: Any,
) -> Interaction:
    """A stored-looking interaction (it has an id) with a unique external id."""
    number = next(_ids)
    external = external_id or f"19{number:08d}"
    values: dict[str, Any] = {
        "platform": platform,
        "kind": kind,
        "external_id": external,
        "thread_key": f"{platform}:{BRAND}:{thread or external}",
        "brand_account_id": BRAND,
        "author": Author(platform, user_id, handle=handle, display_name="Marta Ruiz"),
        "text": text,
        "created_at": datetime(2026, 11, 23, 9, 0, tzinfo=UTC) + timedelta(minutes=number),
        "language": "en",
        "permalink": f"https://x.com/{handle or 'i'}/status/{external}",
        "id": number,
    }
    values.update(overrides)
    return Interaction(**values)


def draft(
    item: Interaction,
    mapping: Mapping | None = None,
    customer: Customer | None = None,
    generation: int = 1,
    **field_overrides: Any,
) -> TicketDraft:
    """The draft the pipeline would build for a thread's first interaction."""
    chosen = mapping or load_mapping("salesforce.yaml")
    context = build_context(item, item.author, customer, None, "support")
    fields = {**render_fields(chosen, context), **field_overrides}
    return TicketDraft(
        external_key=f"{item.thread_key}#{generation}",
        thread_key=item.thread_key,
        fields=fields,
        priority="P3",
        explanation="test",
        first_interaction=item,
        customer=customer,
    )


def soql(emulator: SalesforceEmulator) -> list[str]:
    """Every SOQL statement the emulator received, in order."""
    return [entry.query["q"] for entry in emulator.request_log if "q" in entry.query]


def data_requests(emulator: SalesforceEmulator) -> list[tuple[str, str]]:
    """(method, path below /services/data/vXX.X) of every REST request, in order."""
    prefix = f"/services/data/v{emulator.api_version}"
    return [
        (e.method, e.path.removeprefix(prefix)) for e in emulator.request_log if e.path.startswith(prefix)
    ]
