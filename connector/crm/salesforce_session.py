"""The ``requests.Session`` injected into simple-salesforce: CA bundle, timeouts, usage header.

simple-salesforce never passes ``timeout=`` or ``verify=`` itself, so both are enforced
here, once, for every request it (or our token exchange) makes.
"""

from __future__ import annotations

from typing import Any

import requests
from requests.models import PreparedRequest

from connector.http_session import ConfiguredSession

LIMIT_HEADER = "Sforce-Limit-Info"


class SalesforceSession(ConfiguredSession):
    """A configured session that also remembers the org's API usage header."""

    def __init__(self, ca_bundle: str | None, timeout_s: float) -> None:
        super().__init__(ca_bundle, timeout_s)
        #: The last ``Sforce-Limit-Info`` header seen, recorded by the connector once per batch.
        self.last_limit_info: str | None = None

    def send(self, request: PreparedRequest, **kwargs: Any) -> requests.Response:
        """Send (CA bundle and timeout enforced), and remember the org's API usage header."""
        response = super().send(request, **kwargs)
        header = response.headers.get(LIMIT_HEADER)
        if header:
            self.last_limit_info = header
        return response


def parse_limit_info(header: str) -> dict[str, dict[str, Any]]:
    """Parse ``api-usage=10018/100000; api-bursts=1/750; per-app-api-usage=17/250(appName=x)``.

    Salesforce documents ``;``-separated ``key=used/total`` pairs; newer orgs add keys, so
    every pair is kept and an unparsable one is skipped rather than failing the batch.
    """
    usage: dict[str, dict[str, Any]] = {}
    for part in header.split(";"):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        numbers, _, extra = value.partition("(")
        used, slash, total = numbers.partition("/")
        if not slash or not used.strip().isdigit() or not total.strip().isdigit():
            continue
        entry: dict[str, Any] = {"used": int(used), "total": int(total)}
        if extra.startswith("appName="):
            entry["app"] = extra.removeprefix("appName=").rstrip(")")
        usage[key.strip()] = entry
    return usage
