"""The settings of one SOAP desk connection (``connections.<name>`` in the config).

The mapping says which operations to call; this says where and as whom: the address
each service's path is joined to, HTTP Basic or WS-Security UsernameToken credentials
(``SecretStr``: never in ``repr``, logs or errors), the CA bundle, timeouts and limits.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from connector.crm.connection_settings import load_connection_settings

#: Fault strings that mean "try again later" rather than "this data is refused".
DEFAULT_RETRY_FAULTS: tuple[str, ...] = (
    r"busy",
    r"time[d ]?out",
    r"try again",
    r"unavailable",
    r"temporar",
    r"deadlock",
    r"lock wait",
    r"throttl",
    r"too many",
    r"maintenance",
    r"transaction (was )?cancel",
)


class SoapSettings(BaseModel):
    """How to reach and authenticate against one SOAP desk."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint: str = Field(pattern=r"^https?://")
    # A full address per service name, for desks whose services do not share a base URL.
    endpoints: dict[str, str] = Field(default_factory=dict)
    auth: Literal["basic", "wsse", "none"] = "basic"
    username: str | None = None
    password: SecretStr | None = None
    wsse_digest: bool = False  # UsernameToken with PasswordDigest instead of PasswordText
    timeout_s: float = Field(default=30.0, gt=0)
    ca_bundle: str | None = None
    max_response_bytes: int = Field(default=20_000_000, ge=10_000)
    retries: int = Field(default=4, ge=1, le=10)
    retry_initial_s: float = Field(default=0.5, ge=0)
    retry_max_s: float = Field(default=8.0, ge=0)
    # After HTTP 401/403 the connector pauses (credentials do not fix themselves).
    pause_base_s: float = Field(default=300.0, gt=0)
    pause_max_s: float = Field(default=3600.0, gt=0)
    retry_faults: tuple[str, ...] = DEFAULT_RETRY_FAULTS
    identity_cache_ttl_s: float = Field(default=3600.0, ge=0)
    # Where agents open a ticket, with {id} for its record id, e.g.
    # https://acme.service-now.com/nav_to.do?uri=incident.do?sys_id={id}
    record_url: str | None = Field(default=None, pattern=r"^https?://.*\{id\}")

    @model_validator(mode="after")
    def _credentials(self) -> SoapSettings:
        if self.auth != "none" and (not self.username or self.password is None):
            raise ValueError(f"auth {self.auth} needs username and password")
        for name, url in self.endpoints.items():
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"endpoints.{name} must be an http(s) URL")
        return self

    def address(self, service: str, path: str) -> str:
        """The service's address: its own entry in ``endpoints``, else endpoint joined with path."""
        if service in self.endpoints:
            return self.endpoints[service]
        if not path:
            return self.endpoint
        return self.endpoint.rstrip("/") + "/" + path.lstrip("/")

    def url_for(self, record_id: str) -> str | None:
        """The ticket's page in the desk, when ``record_url`` is configured."""
        return self.record_url.replace("{id}", record_id) if self.record_url else None

    @property
    def account_key(self) -> str:
        """Names the desk account in state without revealing credentials."""
        digest = hashlib.sha256(f"{self.endpoint}|{self.username}".encode()).hexdigest()[:12]
        return f"soap-{digest}"


def load_settings(connections: dict[str, dict[str, Any]], name: str, base_dir: Path) -> SoapSettings:
    """Validate ``connections.<name>``; problems name the key, never a secret's value."""
    return load_connection_settings(SoapSettings, "soap", connections, name, base_dir)
