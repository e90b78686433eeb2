"""SOAP 1.1 on the wire for the ServiceNow emulator: reading requests safely, writing envelopes and faults,
and the hostile or malformed answers a test can inject.

Requests are parsed with lxml without entity resolution, network access or DTD loading, and refused
(Client fault) when they carry a DTD at all. Operations and parameters are read by local name, since
ServiceNow's own samples qualify the operation either with ``http://www.service-now.com/<table>`` or
with ``http://www.service-now.com``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal
from xml.sax.saxutils import escape

from lxml import etree

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'
ResponseStyle = Literal["prefixed", "default_ns", "unqualified"]
HostileKind = Literal["billion_laughs", "external_entity", "huge", "not_xml", "truncated"]
HOSTILE_KINDS: tuple[str, ...] = ("billion_laughs", "external_entity", "huge", "not_xml", "truncated")
Params = dict[str, str | list[str]]
Fields = Sequence[tuple[str, str]]

_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False
)
_HIBERNATING_PAGE = (  # HTML as browsers take it, not XML: unclosed <meta> and <br>
    b"<!DOCTYPE html>\n<html><head><meta charset=utf-8><title>Instance Hibernating page</title></head>\n"
    b"<body><h1>Your instance is hibernating</h1><br>\n"
    b"<p>Log in to wake it up. This page is served with HTTP 200 in place of the SOAP answer.\n"
    b"</body></html>\n"
)


class SoapError(Exception):
    """Answered as a SOAP Fault (HTTP 500)."""

    def __init__(self, faultstring: str, faultcode: str = "SOAP-ENV:Server", detail: str = "") -> None:
        super().__init__(faultstring)
        self.faultstring = faultstring
        self.faultcode = faultcode
        self.detail = detail


@dataclass
class SoapCall:
    operation: str
    params: Params


def parse_request(body: bytes) -> SoapCall:
    """The operation (local name of Body's first child) and its children (local name → text)."""
    if not body.strip():
        raise SoapError("Empty SOAP request", "SOAP-ENV:Client")
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as error:
        raise SoapError(f"Unable to parse SOAP document: {error}", "SOAP-ENV:Client") from None
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise SoapError("DTD is prohibited in SOAP messages", "SOAP-ENV:Client")
    if etree.QName(root).localname != "Envelope":
        raise SoapError("The root element is not a SOAP Envelope", "SOAP-ENV:Client")
    body_el = next((c for c in _elements(root) if etree.QName(c).localname == "Body"), None)
    operation_el = next(iter(_elements(body_el)), None) if body_el is not None else None
    if operation_el is None:
        raise SoapError("No operation in the SOAP Body", "SOAP-ENV:Client")
    params: Params = {}
    for child in _elements(operation_el):
        name, text = str(etree.QName(child).localname), "".join(child.itertext())
        previous = params.get(name)
        if previous is None:
            params[name] = text
        elif isinstance(previous, list):
            previous.append(text)
        else:
            params[name] = [previous, text]
    return SoapCall(str(etree.QName(operation_el).localname), params)


def _elements(parent: etree._Element) -> list[etree._Element]:
    return [child for child in parent if isinstance(child.tag, str)]


# -- answers ----------------------------------------------------------------------------------------


def envelope(body: str, prolog: str = "") -> bytes:
    return (
        f"{XML_DECLARATION}{prolog}"
        f'<SOAP-ENV:Envelope xmlns:SOAP-ENV="{SOAP_ENV}" xmlns:xsd="http://www.w3.org/2001/XMLSchema"'
        f' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<SOAP-ENV:Body>{body}</SOAP-ENV:Body></SOAP-ENV:Envelope>"
    ).encode()


def fields_xml(fields: Fields) -> str:
    return "".join(f"<{name}>{escape(value)}</{name}>" for name, value in fields)


def response_element(operation: str, namespace: str, inner: str, style: ResponseStyle) -> str:
    """``<opResponse>`` qualified in the table namespace, its children unqualified (``prefixed``);
    or with ``xmlns=`` on it so the children inherit the namespace (``default_ns``: what instances
    send); or with no namespace at all (``unqualified``: the shape of the docs' samples)."""
    name = f"{operation}Response"
    if style == "prefixed":
        return f'<tns:{name} xmlns:tns="{namespace}">{inner}</tns:{name}>'
    if style == "default_ns":
        return f'<{name} xmlns="{namespace}">{inner}</{name}>'
    return f"<{name}>{inner}</{name}>"


def response(operation: str, namespace: str, fields: Fields, style: ResponseStyle) -> bytes:
    return envelope(response_element(operation, namespace, fields_xml(fields), style))


def records_response(namespace: str, rows: Sequence[Fields], style: ResponseStyle) -> bytes:
    inner = "".join(f"<getRecordsResult>{fields_xml(row)}</getRecordsResult>" for row in rows)
    return envelope(response_element("getRecords", namespace, inner, style))


def fault(error: SoapError) -> bytes:
    detail = f"<detail>{escape(error.detail)}</detail>" if error.detail else ""
    return envelope(
        f"<SOAP-ENV:Fault><faultcode>{escape(error.faultcode)}</faultcode>"
        f"<faultstring>{escape(error.faultstring)}</faultstring>{detail}</SOAP-ENV:Fault>"
    )


# -- hostile answers ----------------------------------------------------------------------------------


@dataclass
class HostileBody:
    """A payload: ``chunks`` written in order; ``length`` is the Content-Length announced."""

    chunks: Iterator[bytes]
    length: int
    content_type: str = "text/xml;charset=UTF-8"
    close: bool = False  # close the connection after the chunks, even if fewer than ``length`` bytes


def hostile(
    kind: str, operation: str, namespace: str, *, size: int, normal: bytes | None, close_early: bool
) -> HostileBody:
    """The answer of one hostile ``kind`` to ``operation`` (``normal``: the real answer, if computed)."""
    if kind == "billion_laughs":
        entities = ['<!ENTITY lol0 "lol">'] + [
            f'<!ENTITY lol{i} "{"".join(f"&lol{i - 1};" for _ in range(10))}">' for i in range(1, 10)
        ]
        return _whole(_hostile_envelope(operation, namespace, "&lol9;", "".join(entities)))
    if kind == "external_entity":
        entity = '<!ENTITY xxe SYSTEM "file:///etc/passwd">'
        return _whole(_hostile_envelope(operation, namespace, "&xxe;", entity))
    if kind == "huge":
        head, _, tail = _hostile_envelope(operation, namespace, "\0", "").partition(b"\0")
        return HostileBody(_huge_chunks(head, size, tail), len(head) + size + len(tail))
    if kind == "not_xml":
        return _whole(_HIBERNATING_PAGE, "text/html;charset=UTF-8")
    if kind == "truncated":
        body = normal if normal is not None else _hostile_envelope(operation, namespace, "0" * 32, "")
        cut = _cut_point(body)
        if close_early:
            return HostileBody(iter([body[:cut]]), len(body), close=True)
        return _whole(body[:cut])
    raise ValueError(f"unknown hostile kind {kind!r}; one of {HOSTILE_KINDS}")


def _whole(body: bytes, content_type: str = "text/xml;charset=UTF-8") -> HostileBody:
    return HostileBody(iter([body]), len(body), content_type)


def _hostile_envelope(operation: str, namespace: str, value: str, internal_subset: str) -> bytes:
    """An answer to ``operation`` whose first field carries ``value`` (raw XML: entity references)."""
    if operation == "getRecords":
        inner = f"<getRecordsResult><sys_id>{value}</sys_id></getRecordsResult>"
    elif operation == "deleteRecord":
        inner = f"<count>{value}</count>"
    else:
        inner = f"<sys_id>{value}</sys_id>"
    prolog = f"\n<!DOCTYPE SOAP-ENV:Envelope [\n{internal_subset}\n]>\n" if internal_subset else ""
    return envelope(response_element(operation, namespace, inner, "prefixed"), prolog)


def _huge_chunks(head: bytes, size: int, tail: bytes, chunk: int = 1 << 16) -> Iterator[bytes]:
    yield head
    block = (b"0123456789abcdef" * (chunk // 16 + 1))[:chunk]
    remaining = size
    while remaining > 0:
        piece = block[: min(chunk, remaining)]
        remaining -= len(piece)
        yield piece
    yield tail


def _cut_point(body: bytes) -> int:
    """Inside the text of the first leaf element (else half-way): the document ends mid-element."""
    first_close = body.find(b"</", body.find(b"Body>"))
    return max(first_close - 4, len(XML_DECLARATION) + 1) if first_close > 0 else len(body) // 2
