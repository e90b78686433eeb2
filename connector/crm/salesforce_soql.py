"""SOQL statements the connector sends, always built with simple-salesforce's ``format_soql``.

Values are quoted and escaped by ``format_soql`` (a handle such as ``o'brien\\`` becomes
``'o\\'brien\\\\'``); names of objects and fields come from the mapping, so they are
checked against an identifier pattern before being placed with ``:literal``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime

from simple_salesforce.format import format_soql

# Field names, optionally through relationships (Account.AnnualRevenue).
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,4}$")


class SoqlNameError(ValueError):
    """An object or field name that cannot be placed in SOQL as is."""


def soql_name(name: str) -> str:
    """Return ``name`` if it is a plain (dotted) identifier; raise otherwise."""
    if not _NAME.fullmatch(name):
        raise SoqlNameError(f"{name!r} is not a Salesforce object or field name")
    return name


def _columns(fields: Iterable[str]) -> str:
    return ", ".join(soql_name(f) for f in dict.fromkeys(fields))


def select_where_in(
    sobject: str, fields: Sequence[str], column: str, values: Sequence[str], extra: str = ""
) -> str:
    """``SELECT fields FROM sobject WHERE column IN (values)``; ``extra`` is pre-formatted SOQL."""
    query = format_soql(
        "SELECT {:literal} FROM {:literal} WHERE {:literal} IN {}",
        _columns(fields),
        soql_name(sobject),
        soql_name(column),
        list(values),
    )
    return f"{query} AND {extra}" if extra else query


def personas(column: str, values: Sequence[str], providers: Sequence[str]) -> str:
    """SocialPersonas by network user id (``ExternalId``) or handle (``Name``) on some providers."""
    extra = format_soql("Provider IN {}", sorted(set(providers)))
    fields = ["Id", "ParentId", "ExternalId", "Name", "Provider"]
    return select_where_in("SocialPersona", fields, column, values, extra)


def changed_since(sobject: str, fields: Sequence[str], key_field: str, since: datetime | None) -> str:
    """Tickets we created (key field set), changed after ``since``, oldest first.

    ``format_soql`` writes the datetime as a UTC literal without milliseconds, so a
    watermark is re-read from its whole second: harmless, changes dedupe on event ids.
    """
    query = format_soql(
        "SELECT {:literal} FROM {:literal} WHERE {:literal} != null",
        _columns(fields),
        soql_name(sobject),
        soql_name(key_field),
    )
    if since is not None:
        query += format_soql(" AND LastModifiedDate > {}", since)
    return query + " ORDER BY LastModifiedDate, Id"


def by_ids(sobject: str, fields: Sequence[str], ids: Sequence[str]) -> str:
    return select_where_in(sobject, ["Id", *fields], "Id", ids)
