"""Import the local desk's customers from CSV: who they are on each platform and what they are worth."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, delete, select, update

from connector.crm.local import normalize_handle, normalize_phone
from connector.db import insert_ignore
from connector.model import PLATFORMS
from connector.schema import customer_identities, customers
from connector.store import Store

BASE_COLUMNS = ("customer_id", "name", "email", "phone", "value", "tier", "account_id")
IDENTITY_COLUMNS = tuple(f"{p}_{kind}" for p in PLATFORMS for kind in ("id", "handle"))
KNOWN_COLUMNS = frozenset(BASE_COLUMNS + IDENTITY_COLUMNS)


class CustomerImportError(ValueError):
    """The CSV cannot be imported; ``problems`` lists ``file:line: problem`` entries."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class CustomerRow:
    line: int
    values: dict[str, Any]
    identities: tuple[tuple[str, str, str], ...]


@dataclass(frozen=True, slots=True)
class ImportResult:
    created: int
    updated: int
    identities: int


def read_customer_csv(path: Path) -> list[CustomerRow]:
    """Parse and check every row before anything is written, reporting all problems at once."""
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise CustomerImportError([f"{path}: cannot read: {exc.strerror}"]) from None
    with handle:
        reader = csv.DictReader(handle)
        header = [h.strip() for h in (reader.fieldnames or [])]
        problems = _check_header(path, header)
        if problems:
            raise CustomerImportError(problems)
        rows: list[CustomerRow] = []
        seen: dict[str, int] = {}
        for line, raw in _numbered(reader):
            row, row_problems = _parse_row(path, line, raw, seen)
            problems.extend(row_problems)
            if row is not None:
                rows.append(row)
    if problems:
        raise CustomerImportError(problems)
    return rows


def _numbered(reader: csv.DictReader[str]) -> Iterator[tuple[int, dict[str, str]]]:
    for raw in reader:
        yield reader.line_num, {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k is not None}


def _check_header(path: Path, header: list[str]) -> list[str]:
    if not header:
        return [f"{path}:1: the file is empty; expected a header with at least customer_id"]
    problems = []
    if "customer_id" not in header:
        problems.append(f"{path}:1: missing required column customer_id")
    unknown = [h for h in header if h not in KNOWN_COLUMNS]
    if unknown:
        problems.append(
            f"{path}:1: unknown column(s) {', '.join(unknown)}; known: {', '.join(BASE_COLUMNS)} "
            f"and <platform>_id / <platform>_handle for {', '.join(PLATFORMS)}"
        )
    return problems


def _parse_row(
    path: Path, line: int, raw: dict[str, str], seen: dict[str, int]
) -> tuple[CustomerRow | None, list[str]]:
    problems: list[str] = []
    customer_id = raw.get("customer_id", "")
    if not customer_id:
        return None, [f"{path}:{line}: customer_id is empty"]
    if customer_id in seen:
        problems.append(f"{path}:{line}: customer_id {customer_id} already on line {seen[customer_id]}")
    seen[customer_id] = line
    value: float | None = None
    if raw.get("value"):
        try:
            value = float(raw["value"].replace(",", ""))
        except ValueError:
            problems.append(f"{path}:{line}: value {raw['value']!r} is not a number")
    email = raw.get("email", "").lower() or None
    if email and "@" not in email:
        problems.append(f"{path}:{line}: email {email!r} is not an email address")
    identities: list[tuple[str, str, str]] = []
    for platform in PLATFORMS:
        if raw.get(f"{platform}_id"):
            identities.append(("social_id", platform, raw[f"{platform}_id"]))
        if raw.get(f"{platform}_handle"):
            identities.append(("handle", platform, normalize_handle(raw[f"{platform}_handle"])))
    if email:
        identities.append(("email", "*", email))
    if raw.get("phone"):
        identities.append(("phone", "*", normalize_phone(raw["phone"])))
    values = {
        "customer_id": customer_id,
        "name": raw.get("name") or None,
        "email": email,
        "phone": raw.get("phone") or None,
        "value": value,
        "tier": raw.get("tier") or None,
        "account_id": raw.get("account_id") or None,
    }
    return (None if problems else CustomerRow(line, values, tuple(identities))), problems


def import_customers(
    store: Store, rows: list[CustomerRow], progress: Callable[[int], None] | None = None
) -> ImportResult:
    """Upsert customers by customer_id and replace their identities, in one transaction."""
    created = updated = identity_count = 0
    with store.write() as conn:
        for row in rows:
            if _upsert_customer(conn, row.values):
                created += 1
            else:
                updated += 1
            conn.execute(
                delete(customer_identities).where(
                    customer_identities.c.customer_id == row.values["customer_id"]
                )
            )
            for kind, platform, value in row.identities:
                added = insert_ignore(
                    conn,
                    customer_identities,
                    {
                        "customer_id": row.values["customer_id"],
                        "kind": kind,
                        "platform": platform,
                        "value": value,
                    },
                    ("kind", "platform", "value"),
                )
                identity_count += added is not None
            if progress is not None:
                progress(1)
    return ImportResult(created, updated, identity_count)


def _upsert_customer(conn: Connection, values: dict[str, Any]) -> bool:
    exists = conn.execute(
        select(customers.c.id).where(customers.c.customer_id == values["customer_id"])
    ).first()
    if exists is None:
        conn.execute(customers.insert().values(**values))
        return True
    conn.execute(update(customers).where(customers.c.id == exists.id).values(**values))
    return False
