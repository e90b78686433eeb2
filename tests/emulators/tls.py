"""Throwaway TLS material for local HTTPS emulators, and a client session that trusts it."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import trustme


@dataclass(frozen=True)
class TlsMaterial:
    """One CA and a server certificate for ``127.0.0.1`` and ``localhost``."""

    ca_path: str
    ca: trustme.CA = field(repr=False)
    server_cert: trustme.LeafCert = field(repr=False)

    def server_context(self) -> ssl.SSLContext:
        """Return a server-side context presenting the emulator certificate."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.server_cert.configure_cert(context)
        return context

    def client_context(self) -> ssl.SSLContext:
        """Return a client-side context that trusts only the emulator CA."""
        return ssl.create_default_context(cafile=self.ca_path)


def make_tls(tmp_dir: str | Path) -> TlsMaterial:
    """Create a CA and server certificate; write the CA PEM into ``tmp_dir``."""
    ca = trustme.CA()
    server_cert = ca.issue_cert("127.0.0.1", "localhost")
    ca_path = Path(tmp_dir) / "emulator-ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    return TlsMaterial(ca_path=str(ca_path), ca=ca, server_cert=server_cert)


class CaBundleSession(requests.Session):
    """A ``requests.Session`` whose ``verify`` bundle wins over REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE.

    ``requests`` lets those environment variables override ``Session.verify`` for every
    request that does not pass ``verify=`` itself, and simple-salesforce never does.
    Proxies from the environment still apply.
    """

    def __init__(self, ca_path: str) -> None:
        super().__init__()
        self.verify = ca_path

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> Any:
        if verify is None:
            verify = self.verify
        return super().merge_environment_settings(url, proxies, stream, verify, cert)
