"""Salesforce emulator: request/response shapes and the two kinds of API errors."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

NOT_FOUND_MESSAGE = "The requested resource does not exist"
_DATA_PATH = re.compile(r"/services/data/v(\d+\.\d)(/.*)?")


@dataclass
class ApiRequest:
    """One REST call below ``/services/data/vXX.X/`` (from HTTP or from a composite subrequest)."""

    method: str
    version: str
    segments: list[str]
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: Any = None
    all_or_none: bool = False  # set by an enclosing composite request with allOrNone=true


@dataclass
class ApiResponse:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def split_data_path(path: str) -> tuple[str, list[str]] | None:
    """Split ``/services/data/v59.0/sobjects/Case/`` into ``("59.0", ["sobjects", "Case"])``.

    Segments are percent-decoded one by one, so an encoded ``/`` in an external id stays inside its segment.
    """
    match = _DATA_PATH.fullmatch(path)
    if match is None:
        return None
    rest = (match.group(2) or "").strip("/")
    return match.group(1), [unquote(part) for part in rest.split("/")] if rest else []


class ApiError(Exception):
    """A whole-request failure: an HTTP status and the documented JSON error array."""

    def __init__(self, status: int, error_code: str, message: str, fields: list[str] | None = None) -> None:
        super().__init__(f"{status} {error_code}: {message}")
        self.status = status
        self.error_code = error_code
        self.message = message
        self.fields = fields

    def body(self) -> list[dict[str, Any]]:
        error: dict[str, Any] = {"message": self.message, "errorCode": self.error_code}
        if self.fields is not None:
            error["fields"] = self.fields
        return [error]


def not_found() -> ApiError:
    return ApiError(404, "NOT_FOUND", NOT_FOUND_MESSAGE)


class RecordError(Exception):
    """A per-record DML failure, as reported in a SaveResult."""

    def __init__(self, code: str, message: str, fields: list[str] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.fields = fields or []

    def save_error(self) -> dict[str, Any]:
        """The collections form: ``statusCode``."""
        return {"statusCode": self.code, "message": self.message, "fields": self.fields}

    def api_error(self, status: int = 400) -> ApiError:
        """The single-record form: ``errorCode`` in an error array."""
        return ApiError(status, self.code, self.message, self.fields)
