"""Local emulators of the vendor APIs Ventanilla talks to, served over real HTTPS."""

from tests.emulators.https_server import LoggedRequest
from tests.emulators.salesforce import SalesforceEmulator
from tests.emulators.tls import CaBundleSession, TlsMaterial, make_tls

__all__ = ["CaBundleSession", "LoggedRequest", "SalesforceEmulator", "TlsMaterial", "make_tls"]
