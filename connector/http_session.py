"""A ``requests.Session`` that always uses the configured CA bundle and a default timeout.

requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override ``Session.verify`` for every
request that does not pass ``verify=`` itself, and SDKs rarely pass it; a platform or CRM
configured with its own CA bundle must keep it. A request without ``timeout=`` would wait
forever on a stalled peer, so one is always set.
"""

from __future__ import annotations

from typing import Any

import requests
from requests.models import PreparedRequest


class ConfiguredSession(requests.Session):
    """A session whose configured CA bundle and timeout apply to every request."""

    def __init__(self, ca_bundle: str | None, timeout_s: float) -> None:
        super().__init__()
        self.timeout_s = timeout_s
        self.ca_bundle = ca_bundle
        if ca_bundle is not None:
            self.verify = ca_bundle

    def merge_environment_settings(
        self,
        url: str | bytes | None,
        proxies: Any,
        stream: bool | None,
        verify: Any,
        cert: Any,
    ) -> Any:
        """Keep the configured CA bundle even when the environment names another one."""
        if self.ca_bundle is not None and verify is None:
            verify = self.ca_bundle
        return super().merge_environment_settings(url, proxies, stream, verify, cert)

    def send(self, request: PreparedRequest, **kwargs: Any) -> requests.Response:
        """Send with the default timeout unless the caller gave one."""
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout_s
        return super().send(request, **kwargs)
