"""The settings of one Salesforce connection (``connections.<name>`` in the config).

Secrets are ``SecretStr``: they never show in ``repr``, logs or validation errors, and
they come from the environment through ``${VAR}`` references in the config file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from connector.config import ConfigError
from connector.crm.connection_settings import load_connection_settings

AuthMethod = Literal["client_credentials", "jwt", "password", "access_token"]
# What each grant needs, checked once at start-up rather than at the first token request.
_REQUIRED: dict[str, tuple[str, ...]] = {
    "client_credentials": ("client_id", "client_secret"),
    "password": ("client_id", "client_secret", "username", "password"),
    "jwt": ("client_id", "username"),
    "access_token": ("access_token", "instance_url"),
}


class SalesforceSettings(BaseModel):
    """How to reach and authenticate against one Salesforce org."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    instance_url: str | None = Field(default=None, pattern=r"^https://")
    token_url: str | None = Field(default=None, pattern=r"^https://")
    auth: AuthMethod = "client_credentials"
    client_id: str | None = None
    client_secret: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    security_token: SecretStr | None = None
    private_key: SecretStr | None = None
    private_key_file: str | None = None
    access_token: SecretStr | None = None
    audience: str = "https://login.salesforce.com"
    api_version: str = Field(default="59.0", pattern=r"^\d+\.\d$")
    timeout_s: float = Field(default=30.0, gt=0)
    ca_bundle: str | None = None
    organization_id: str | None = Field(default=None, pattern=r"^00D[A-Za-z0-9]{12}([A-Za-z0-9]{3})?$")
    batch_size: int = Field(default=200, ge=1, le=200)  # sObject Collections take at most 200 records
    query_chunk: int = Field(default=200, ge=1, le=1000)
    retries: int = Field(default=3, ge=1, le=10)
    retry_initial_s: float = Field(default=0.5, ge=0)
    retry_max_s: float = Field(default=8.0, ge=0)
    pause_base_s: float = Field(default=300.0, gt=0)
    pause_max_s: float = Field(default=6 * 3600.0, gt=0)
    identity_cache_ttl_s: float = Field(default=3600.0, ge=0)

    @model_validator(mode="after")
    def _credentials_for_auth(self) -> SalesforceSettings:
        missing = [name for name in _REQUIRED[self.auth] if getattr(self, name) is None]
        if self.auth == "jwt" and self.private_key is None and self.private_key_file is None:
            missing.append("private_key or private_key_file")
        if self.auth != "access_token" and self.token_url is None:
            missing.append("token_url")
        if missing:
            raise ValueError(f"auth {self.auth!r} needs {', '.join(missing)}")
        return self

    def signing_key(self) -> str:
        """The JWT signing key (PEM), inline or read from ``private_key_file``."""
        if self.private_key is not None:
            return self.private_key.get_secret_value()
        if self.private_key_file is None:
            raise ConfigError("salesforce: auth jwt needs private_key or private_key_file")
        try:
            return Path(self.private_key_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"salesforce: cannot read private_key_file {self.private_key_file}: {exc.strerror}"
            ) from None


def load_settings(connections: dict[str, dict[str, Any]], name: str, base_dir: Path) -> SalesforceSettings:
    """Validate ``connections.<name>``; problems name the key, never a secret's value."""
    return load_connection_settings(
        SalesforceSettings, "salesforce", connections, name, base_dir, ("ca_bundle", "private_key_file")
    )
