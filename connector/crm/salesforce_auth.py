"""OAuth 2.0 token flows for Salesforce: client credentials, JWT bearer, password, pre-issued token.

Each grant is one form-encoded POST to ``token_url`` (configurable, so sandboxes, My
Domain logins and test servers work). Errors say which grant failed and Salesforce's
``error`` code, never a credential.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import jwt
import requests

from connector.crm.base import ConnectorError, PermanentConnectorError
from connector.crm.batching import RetryableError
from connector.crm.salesforce_settings import SalesforceSettings

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# Salesforce accepts a JWT assertion for at most 3 minutes after it is issued.
JWT_LIFETIME_S = 180


@dataclass(frozen=True, slots=True)
class Token:
    """An access token and the instance it is valid for."""

    access_token: str = field(repr=False)
    instance_url: str


def jwt_assertion(settings: SalesforceSettings, now: float | None = None) -> str:
    """Sign the JWT bearer assertion (RS256): iss = client id, sub = username, aud, exp."""
    issued = int(now if now is not None else time.time())
    claims = {
        "iss": settings.client_id,
        "sub": settings.username,
        "aud": settings.audience,
        "exp": issued + JWT_LIFETIME_S,
    }
    try:
        return jwt.encode(claims, settings.signing_key(), algorithm="RS256")
    except (ValueError, TypeError, jwt.PyJWTError) as exc:
        # The message of a key-parsing error never contains the key itself.
        raise PermanentConnectorError(f"salesforce: cannot sign the JWT assertion: {exc}") from None


def _secret(value: Any) -> str:
    return "" if value is None else str(value.get_secret_value())


def token_form(settings: SalesforceSettings) -> dict[str, str]:
    """The form fields of the token request for the configured grant."""
    if settings.auth == "client_credentials":
        return {
            "grant_type": "client_credentials",
            "client_id": settings.client_id or "",
            "client_secret": _secret(settings.client_secret),
        }
    if settings.auth == "password":
        # Salesforce wants the user's security token appended to the password.
        return {
            "grant_type": "password",
            "client_id": settings.client_id or "",
            "client_secret": _secret(settings.client_secret),
            "username": settings.username or "",
            "password": _secret(settings.password) + _secret(settings.security_token),
        }
    return {"grant_type": JWT_GRANT, "assertion": jwt_assertion(settings)}


def fetch_token(settings: SalesforceSettings, session: requests.Session) -> Token:
    """Obtain an access token with the configured grant (no request for ``access_token``)."""
    if settings.auth == "access_token":
        return Token(_secret(settings.access_token), settings.instance_url or "")
    form = token_form(settings)
    try:
        response = session.post(settings.token_url or "", data=form, headers={"Accept": "application/json"})
    except requests.Timeout:
        raise RetryableError(f"salesforce: token request ({settings.auth}) timed out") from None
    except requests.RequestException as exc:
        raise RetryableError(
            f"salesforce: token request ({settings.auth}) failed: {type(exc).__name__}"
        ) from None
    return _read_token(settings, response)


def _read_token(settings: SalesforceSettings, response: requests.Response) -> Token:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    if response.status_code >= 500:
        raise RetryableError(f"salesforce: token endpoint answered {response.status_code}")
    if response.status_code != 200 or "access_token" not in body:
        error = body.get("error", "unknown_error")
        detail = body.get("error_description", "")
        message = f"salesforce: {settings.auth} authentication failed ({response.status_code} {error}"
        message += f": {detail})" if detail else ")"
        # Not permanent: the jobs are fine, the credentials are not; once an operator fixes
        # them the retried (or replayed) jobs go through.
        raise ConnectorError(message)
    instance_url = settings.instance_url or str(body.get("instance_url") or "")
    if not instance_url:
        raise PermanentConnectorError("salesforce: the token response names no instance_url; set one")
    return Token(str(body["access_token"]), instance_url)
