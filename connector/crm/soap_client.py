"""A thin, typed client over zeep: safe parsing, one error translation, retries, the breaker.

zeep is set to refuse DTDs, entity declarations and external references in every
document (WSDL and responses), so a billion-laughs or external-entity payload is an
error before anything expands; responses are read in a stream and cut off past
``max_response_bytes``. Each WSDL is parsed once per process and shared by every client.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast

import requests
from zeep import Client, Settings
from zeep.exceptions import (
    DTDForbidden,
    EntitiesForbidden,
    ExternalReferenceForbidden,
    Fault,
    TransportError,
    XMLParseError,
    XMLSyntaxError,
)
from zeep.exceptions import Error as ZeepError
from zeep.exceptions import ValidationError as ZeepValidationError
from zeep.helpers import serialize_object
from zeep.proxy import ServiceProxy
from zeep.transports import Transport
from zeep.wsdl import Document
from zeep.wsse.username import UsernameToken

from connector.crm.base import ConnectorError, PermanentConnectorError
from connector.crm.batching import CircuitBreaker, RetryableError, StateStore, call_with_retries
from connector.crm.soap_settings import SoapSettings
from connector.http_session import ConfiguredSession
from mappings.soap_spec import SoapService

log = logging.getLogger("ventanilla.soap")
Row = dict[str, Any]
SCALAR = "_value"  # the key of an answer that is one value (zeep unwraps one-field answers)
CHUNK = 64 * 1024
# 401/403 mean wrong credentials or roles, 404 a wrong endpoint: no retry fixes those.
PAUSING_STATUSES = {401: "refused the credentials", 403: "refused access", 404: "has no such endpoint"}


class HostileResponseError(ConnectorError):
    """The desk answered with XML we refuse to parse (DTD, entities, external references, bad XML)."""


class ResponseTooLargeError(ConnectorError):
    """The desk's answer exceeded ``max_response_bytes``; it was not read to the end."""


def safe_settings() -> Settings:
    """zeep settings that never expand entities, load DTDs or fetch external references."""
    return Settings(
        strict=True, forbid_dtd=True, forbid_entities=True, forbid_external=True, xml_huge_tree=False
    )


class CappedTransport(Transport):
    """A zeep transport that streams answers and stops at a size limit, and never logs bodies.

    zeep's own transport logs whole envelopes at DEBUG level, WS-Security password
    included; this one logs nothing of the bodies.
    """

    def __init__(self, session: requests.Session, timeout_s: float, max_bytes: int) -> None:
        super().__init__(session=session, timeout=timeout_s, operation_timeout=timeout_s)  # type: ignore[no-untyped-call]
        self.max_bytes = max_bytes

    def post(self, address: str, message: bytes | str, headers: dict[str, str]) -> requests.Response:
        response = self.session.post(
            address, data=message, headers=headers, timeout=self.operation_timeout, stream=True
        )
        return self._read_capped(response, address)

    def _load_remote_data(self, url: str) -> bytes:
        response = self.session.get(url, timeout=self.load_timeout, stream=True)
        self._read_capped(response, url)
        response.raise_for_status()
        return bytes(response.content)

    def _read_capped(self, response: requests.Response, where: str) -> requests.Response:
        body = bytearray()
        try:
            for chunk in response.iter_content(CHUNK):
                body += chunk
                if len(body) > self.max_bytes:
                    raise ResponseTooLargeError(
                        f"{where}: the answer exceeds {self.max_bytes} bytes; refused (max_response_bytes)"
                    )
        finally:
            response.close()
        response._content = bytes(body)
        return response


_documents: dict[tuple[str, float], Document] = {}
_documents_lock = threading.Lock()


def load_document(location: str, transport: Transport) -> Document:
    """Parse a WSDL once per process (files again when they change)."""
    path = Path(location)
    mtime = path.stat().st_mtime if not re.match(r"^https?://", location) and path.exists() else 0.0
    key = (location, mtime)
    with _documents_lock:
        document = _documents.get(key)
        if document is None:
            document = _documents[key] = Document(location, cast(Any, transport), settings=safe_settings())
        return document


def rows_of(result: Any) -> list[Row]:
    """Every record in an answer, as plain dicts (list answers, wrapped lists, one record)."""
    data = serialize_object(result, target_cls=dict)  # type: ignore[no-untyped-call]
    if data is None:
        return []
    if isinstance(data, dict):
        values = list(data.values())
        if len(values) == 1 and isinstance(values[0], list):
            data = values[0]
        elif all(value is None for value in values):
            return []
        else:
            return [data]
    if isinstance(data, list):
        return [row for row in data if isinstance(row, dict)]
    return [{SCALAR: data}]


def text_of(value: Any) -> str | None:
    """A field's value as text (booleans in lower case), None when absent or empty."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _declares_dtd(exc: Exception) -> bool:
    """An answer lxml refused before zeep could name it (entity loops, amplification)."""
    content = getattr(exc, "content", None)
    head = content[:8192] if isinstance(content, bytes) else b""
    return b"<!ENTITY" in head or re.search(rb"<!DOCTYPE[^>]*(\[|SYSTEM)", head) is not None


class SoapClient:
    """Calls WSDL operations by service name, translating every failure once."""

    def __init__(
        self,
        settings: SoapSettings,
        services: Mapping[str, SoapService],
        store: StateStore,
        scope: str,
        connection: str = "soap",
    ) -> None:
        self.settings = settings
        self.services = dict(services)
        self.connection = connection
        self.breaker = CircuitBreaker(store, scope, settings.pause_base_s, settings.pause_max_s)
        session = ConfiguredSession(settings.ca_bundle, settings.timeout_s)
        if settings.auth == "basic":
            assert settings.username is not None and settings.password is not None
            session.auth = (settings.username, settings.password.get_secret_value())
        self.transport = CappedTransport(session, settings.timeout_s, settings.max_response_bytes)
        self._retry_faults = re.compile("|".join(settings.retry_faults), re.IGNORECASE)
        self._proxies: dict[str, ServiceProxy] = {}
        self._clients: dict[str, Client] = {}
        self._lock = threading.Lock()

    # --- zeep objects -----------------------------------------------------------------------

    def client(self, service: str) -> Client:
        """The zeep client of a service (its WSDL parsed once); raises for an unusable WSDL."""
        with self._lock:
            client = self._clients.get(service)
            if client is None:
                spec = self.services[service]
                try:
                    document = load_document(spec.wsdl, self.transport)
                except (OSError, requests.RequestException) as exc:
                    raise ConnectorError(
                        f"soap.services.{service}.wsdl: cannot load {spec.wsdl}: {exc}"
                    ) from exc
                except (ZeepError, ValueError) as exc:
                    raise PermanentConnectorError(
                        f"soap.services.{service}.wsdl: {spec.wsdl} is not a usable WSDL: {exc}"
                    ) from exc
                wsse = None
                if self.settings.auth == "wsse":
                    assert self.settings.username is not None and self.settings.password is not None
                    wsse = UsernameToken(  # type: ignore[no-untyped-call]
                        self.settings.username,
                        self.settings.password.get_secret_value(),
                        use_digest=self.settings.wsse_digest,
                    )
                client = self._clients[service] = Client(  # type: ignore[no-untyped-call]
                    document, transport=self.transport, settings=safe_settings(), wsse=wsse
                )
            return client

    def proxy(self, service: str) -> ServiceProxy:
        """The service bound to the configured address (never the WSDL's own soap:address)."""
        proxy = self._proxies.get(service)
        if proxy is None:
            client = self.client(service)
            spec = self.services[service]
            binding = spec.binding or self._first_binding(client)
            try:
                proxy = client.create_service(  # type: ignore[no-untyped-call]
                    binding, self.settings.address(service, spec.path)
                )
            except (ZeepError, ValueError, KeyError) as exc:
                raise PermanentConnectorError(f"soap.services.{service}.binding: {binding}: {exc}") from exc
            self._proxies[service] = proxy
        return proxy

    @staticmethod
    def _first_binding(client: Client) -> str:
        for service in client.wsdl.services.values():
            for port in service.ports.values():
                return str(port.binding.name)
        raise PermanentConnectorError("the WSDL defines no service port; name a binding in the mapping")

    # --- calls ------------------------------------------------------------------------------

    def call(self, service: str, operation: str, params: Mapping[str, Any], *, idempotent: bool) -> list[Row]:
        """Run one operation; return its records. Idempotent calls retry transient failures."""
        self.breaker.check()
        where = f"{service}.{operation}"

        def attempt() -> list[Row]:
            return self._once(where, service, operation, params)

        if idempotent:
            rows = call_with_retries(
                attempt,
                self.settings.retries,
                initial_s=self.settings.retry_initial_s,
                max_s=self.settings.retry_max_s,
            )
        else:
            rows = attempt()
        self.breaker.succeeded()
        return rows

    def _once(self, where: str, service: str, operation: str, params: Mapping[str, Any]) -> list[Row]:
        method: Callable[..., Any] | None = getattr(self.proxy(service), operation, None)
        try:
            if method is None:
                raise AttributeError(operation)
            return rows_of(method(**{k: v for k, v in params.items() if v is not None}))
        except Exception as exc:
            raise self.translate(where, exc) from exc

    def translate(self, where: str, exc: Exception) -> ConnectorError:
        """Map one failure to the error the pipeline acts on (retry, dead letter, pause)."""
        if isinstance(exc, ConnectorError):
            return exc
        if isinstance(exc, Fault):
            message = f"{where}: SOAP Fault: {exc.message}"
            if self._retry_faults.search(str(exc.message or "")):
                return RetryableError(message)
            return PermanentConnectorError(message)
        if isinstance(exc, (DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden)) or _declares_dtd(
            exc
        ):
            return HostileResponseError(
                f"{where}: refused the desk's answer: it declares a DTD, entities or external "
                f"references, which are never expanded ({type(exc).__name__})"
            )
        if isinstance(exc, TransportError):
            return self._http_error(where, exc)
        if isinstance(exc, XMLParseError):
            return ConnectorError(f"{where}: the desk's answer does not fit the WSDL: {exc}")
        if isinstance(exc, XMLSyntaxError):
            return HostileResponseError(f"{where}: the desk's answer is not valid XML: {exc}")
        if isinstance(exc, requests.Timeout):
            return RetryableError(f"{where}: no answer within {self.settings.timeout_s:g} s")
        if isinstance(exc, requests.RequestException):
            return RetryableError(f"{where}: {type(exc).__name__}: {exc}")
        if isinstance(exc, (TypeError, AttributeError, ZeepValidationError)):
            # zeep's own words name the unknown parameter or the value the WSDL refuses.
            return PermanentConnectorError(f"{where}: the call does not fit the WSDL: {exc}")
        return ConnectorError(f"{where}: {type(exc).__name__}: {exc}")

    def _http_error(self, where: str, exc: TransportError) -> ConnectorError:
        status = int(exc.status_code or 0)
        if status in PAUSING_STATUSES:
            return self.breaker.trip(
                f"HTTP {status}: the desk {PAUSING_STATUSES[status]} ({where}); check "
                f"connections.{self.connection} (endpoint, username, password, roles)"
            )
        if status == 429 or status >= 500:
            return RetryableError(f"{where}: HTTP {status} from the desk")
        if "invalid XML" in str(exc):
            return HostileResponseError(f"{where}: the desk's answer (HTTP {status}) is not valid XML")
        return PermanentConnectorError(f"{where}: HTTP {status} from the desk")
