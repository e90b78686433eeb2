"""The ``requests.Session`` injected into simple-salesforce: CA bundle, timeouts, usage header.

simple-salesforce never passes ``timeout=`` or ``verify=`` itself, so both are enforced
here, once, for every request it (or our token exchange) makes.
"""

from __future__ import annotations

from typing import Any

import requests
from requests.models import PreparedRequest

LIMIT_HEADER = "Sforce-Limit-Info"


class SalesforceSession(requests.Session):
    """A session whose configured CA bundle and timeout apply to every request."""

    def __init__(self, ca_bundle: str | None, timeout_s: float) -> None:
        super().__init__()
        self.timeout_s = timeout_s
        self.ca_bundle = ca_bundle
        if ca_bundle is not None:
            self.verify = ca_bundle
        #: The last ``Sforce-Limit-Info`` header seen, recorded by the connector once per batch.
        self.last_limit_info: str | None = None

    def merge_environment_settings(
        self,
        url: str | bytes | None,
        proxies: Any,
        stream: bool | None,
        verify: Any,
        cert: Any,
    ) -> Any:
        """Keep the configured CA bundle even when REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE are set.

        requests lets those variables override ``Session.verify`` for every request that
        does not pass ``verify=`` itself, and simple-salesforce never does; proxies from
        the environment still apply.
        """
        if self.ca_bundle is not None and verify is None:
            verify = self.ca_bundle
        return super().merge_environment_settings(url, proxies, stream, verify, cert)

    def send(self, request: PreparedRequest, **kwargs: Any) -> requests.Response:
        """Send with the default timeout, and remember the org's API usage header."""
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout_s
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
