"""The settings of one HubSpot connection (``connections.<name>`` in the config).

Secrets (the access token, the app's client secret) are ``SecretStr``: they never show in
``repr``, logs or validation errors, and come from the environment through ``${VAR}``
references in the config file.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from connector.crm.connection_settings import load_connection_settings


class RateLimitSettings(BaseModel):
    """HubSpot's limits for the account, enforced on our side before HubSpot answers 429.

    Defaults are a Professional/Enterprise private app (protocols.md C.7). All private apps
    of an account share these limits: lower them when other integrations use the account.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    requests_per_10s: int = Field(default=190, ge=1)
    search_per_second: int = Field(default=4, ge=1)
    daily: int | None = Field(default=650_000, ge=1)
    # HubSpot's windows; only an emulator has a reason to change them.
    burst_window_s: float = Field(default=10.0, gt=0)
    search_window_s: float = Field(default=1.0, gt=0)
    # The daily limit resets at midnight in the account's time zone (Settings → Account defaults).
    time_zone: str = "UTC"

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name such as Europe/Madrid)"
            ) from None
        return value


class HubSpotSettings(BaseModel):
    """How to reach one HubSpot account (a private app's token, or an OAuth access token)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str = Field(default="https://api.hubapi.com", pattern=r"^https?://[^/]+/?$")
    access_token: SecretStr
    # Webhooks (read by ``webhooks/hubspot.py``): the app's secret that signs them, the
    # signature versions accepted, and the public URL HubSpot calls (behind a proxy).
    client_secret: SecretStr | None = None
    signature_versions: tuple[Literal["v1", "v2", "v3"], ...] = ("v3",)
    webhook_url: str | None = Field(default=None, pattern=r"^https?://")
    portal_id: int | None = Field(default=None, ge=1)
    app_url: str = Field(default="https://app.hubspot.com", pattern=r"^https://[^/]+$")
    timeout_s: float = Field(default=30.0, gt=0)
    ca_bundle: str | None = None
    rate_limit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    batch_size: int = Field(default=100, ge=1, le=100)  # batch endpoints take at most 100 inputs
    search_in_values: int = Field(default=100, ge=1, le=100)  # values in one IN filter
    retries: int = Field(default=4, ge=1, le=10)
    retry_initial_s: float = Field(default=0.5, ge=0)
    retry_max_s: float = Field(default=8.0, ge=0)
    pause_base_s: float = Field(default=60.0, gt=0)
    pause_max_s: float = Field(default=3600.0, gt=0)
    identity_cache_ttl_s: float = Field(default=3600.0, ge=0)

    @field_validator("base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")  # the SDK appends "/crm/v3/..." to it

    @property
    def account_key(self) -> str:
        """Names the account in state and rate limits without revealing the token."""
        if self.portal_id is not None:
            return f"portal-{self.portal_id}"
        digest = hashlib.sha256(self.access_token.get_secret_value().encode()).hexdigest()[:12]
        return f"token-{digest}"

    def record_url(self, object_type_id: str, record_id: str) -> str | None:
        """The record's page in HubSpot, when the portal id is known."""
        if self.portal_id is None:
            return None
        return f"{self.app_url}/contacts/{self.portal_id}/record/{object_type_id}/{record_id}"


def load_settings(connections: dict[str, dict[str, Any]], name: str, base_dir: Path) -> HubSpotSettings:
    """Validate ``connections.<name>``; problems name the key, never a secret's value."""
    return load_connection_settings(HubSpotSettings, "hubspot", connections, name, base_dir)
