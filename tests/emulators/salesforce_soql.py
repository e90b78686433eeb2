"""Salesforce emulator: a tokenizer and parser for the SOQL subset the connector uses.

Grammar (keywords case-insensitive)::

    query      := SELECT (COUNT '(' ')' | path (',' path)*) FROM name
                  [WHERE cond] [ORDER BY order (',' order)*] [LIMIT int] [OFFSET int]
    cond       := unary (AND unary)* | unary (OR unary)*     -- mixing AND/OR needs parentheses
    unary      := NOT unary | '(' cond ')' | path op literal | path [NOT] IN '(' literal, ... ')'
                  | path LIKE string
    order      := path [ASC | DESC] [NULLS (FIRST | LAST)]
    literal    := string | number | true | false | null | datetime | date

Datetime literals need a zone: ``Z`` or ``±hh:mm`` (documented) or ``±hhmm`` (the form the API itself
returns, e.g. ``2026-11-23T10:00:00.000+0000``).

String literals follow the documented escape sequences: \\n \\r \\t \\b \\f (either case), \\" \\'
\\\\ and \\uXXXX everywhere, \\% and \\_ only inside LIKE; any other backslash is an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from tests.emulators.salesforce_schema import parse_date, parse_datetime

_KEYWORD_TEXT = (
    "SELECT FROM WHERE AND OR NOT IN LIKE INCLUDES EXCLUDES ORDER BY ASC DESC NULLS FIRST LAST LIMIT OFFSET "
    "NULL TRUE FALSE GROUP HAVING WITH FOR USING TYPEOF"
)
KEYWORDS = frozenset(_KEYWORD_TEXT.split())
_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
_TOKEN = re.compile(
    r"""(?P<ws>\s+)
    |(?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:[Zz]|[+-]\d{2}:?\d{2}))
    |(?P<baddatetime>\d{4}-\d{2}-\d{2}T[\w:.+-]*)
    |(?P<date>\d{4}-\d{2}-\d{2}(?![\w]))
    |(?P<number>-?\d+(?:\.\d+)?(?![\w.]))
    |(?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*(?![\w.]))
    |(?P<op>!=|<>|<=|>=|=|<|>)
    |(?P<punct>[(),])
    |(?P<quote>')""",
    re.VERBOSE,
)


class SoqlError(Exception):
    """A query the API rejects: errorCode plus Salesforce's caret-style message."""

    def __init__(self, code: str, detail: str, text: str, pos: int) -> None:
        row = text.count("\n", 0, pos) + 1
        line_start = text.rfind("\n", 0, pos) + 1
        line_end = text.find("\n", pos)
        line = text[line_start : line_end if line_end >= 0 else len(text)]
        column = pos - line_start + 1
        message = f"\n{line}\n{' ' * (column - 1)}^\nERROR at Row:{row}:Column:{column}\n{detail}"
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.detail = detail


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    pos: int

    def keyword(self) -> str | None:
        upper = self.text.upper()
        return upper if self.kind == "ident" and upper in KEYWORDS else None


@dataclass(frozen=True)
class LikePattern:
    """A LIKE pattern: a sequence of literal strings and the wildcards ``%`` / ``_``."""

    parts: tuple[tuple[bool, str], ...]  # (is_wildcard, text)

    def regex(self) -> re.Pattern[str]:
        pieces = [(".*" if text == "%" else ".") if wild else re.escape(text) for wild, text in self.parts]
        return re.compile("".join(pieces), re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class Literal:
    kind: str  # string | number | boolean | null | datetime | date | like
    value: Any
    pos: int
    text: str


@dataclass(frozen=True)
class Path:
    parts: tuple[str, ...]
    pos: int

    @property
    def text(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True)
class Comparison:
    path: Path
    op: str  # = != < > <= >= IN NOT IN LIKE
    value: Literal | tuple[Literal, ...]


@dataclass(frozen=True)
class Junction:
    op: str  # AND | OR
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Negation:
    item: Condition


Condition = Comparison | Junction | Negation


@dataclass(frozen=True)
class OrderItem:
    path: Path
    descending: bool
    nulls_last: bool


@dataclass(frozen=True)
class Query:
    text: str
    paths: tuple[Path, ...]
    count_only: bool
    sobject: str
    sobject_pos: int
    where: Condition | None
    order: tuple[OrderItem, ...]
    limit: int | None
    offset: int | None


def tokenize(text: str) -> list[Token]:
    """Split a query into tokens; string tokens keep their raw (still escaped) body."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{text[pos]}'", text, pos)
        kind = match.lastgroup or ""
        if kind == "quote":
            end = _string_end(text, pos)
            tokens.append(Token("string", text[pos + 1 : end], pos))
            pos = end + 1
            continue
        if kind == "baddatetime":
            raise SoqlError(
                "MALFORMED_QUERY",
                f"line 1:{pos} no viable alternative at character '{match.group()}'",
                text,
                pos,
            )
        if kind != "ws":
            tokens.append(Token(kind, match.group(), pos))
        pos = match.end()
    tokens.append(Token("eof", "", len(text)))
    return tokens


def _string_end(text: str, start: int) -> int:
    pos = start + 1
    while pos < len(text):
        if text[pos] == "\\":
            pos += 2
            continue
        if text[pos] == "'":
            return pos
        pos += 1
    raise SoqlError("MALFORMED_QUERY", "unexpected token: <EOF> (unterminated string literal)", text, start)


def decode_string(raw: str, *, like: bool, text: str, pos: int) -> str | LikePattern:
    """Apply SOQL escape sequences; in LIKE mode return a pattern with unescaped ``%``/``_`` as wildcards."""
    parts: list[tuple[bool, str]] = []
    current: list[str] = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\":
            nxt = raw[i + 1] if i + 1 < len(raw) else ""
            hex_digits = raw[i + 2 : i + 6]
            if nxt and nxt.lower() in _SIMPLE_ESCAPES:
                current.append(_SIMPLE_ESCAPES[nxt.lower()])
                i += 2
            elif nxt == "u" and re.fullmatch(r"[0-9A-Fa-f]{4}", hex_digits):
                current.append(chr(int(hex_digits, 16)))
                i += 6
            elif like and nxt and nxt in "%_":
                current.append(nxt)
                i += 2
            else:
                raise SoqlError(
                    "MALFORMED_QUERY",
                    f"Invalid string literal '{raw}'. "
                    f"Illegal character sequence '\\{nxt}' in string literal.",
                    text,
                    pos,
                )
            continue
        if like and ch in "%_":
            parts.extend([(False, _join_utf16(current)), (True, ch)])
            current = []
        else:
            current.append(ch)
        i += 1
    if not like:
        return _join_utf16(current)
    parts.append((False, _join_utf16(current)))
    return LikePattern(tuple(p for p in parts if p[1]))


def _join_utf16(chars: list[str]) -> str:
    # \uD83D\uDE00 escapes arrive as two surrogates; recombine them into one character.
    return "".join(chars).encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def at(self, *keywords: str) -> bool:
        return self.token.keyword() in keywords

    def fail(self, token: Token | None = None) -> SoqlError:
        token = token or self.token
        shown = "<EOF>" if token.kind == "eof" else token.text
        return SoqlError("MALFORMED_QUERY", f"unexpected token: '{shown}'", self.text, token.pos)

    def expect_keyword(self, keyword: str) -> Token:
        if not self.at(keyword):
            raise self.fail()
        return self.advance()

    def expect(self, kind: str, text: str | None = None) -> Token:
        token = self.token
        if token.kind != kind or (text is not None and token.text != text):
            raise self.fail()
        return self.advance()

    def path(self) -> Path:
        token = self.token
        if token.kind != "ident" or token.keyword():
            raise self.fail()
        self.advance()
        return Path(tuple(token.text.split(".")), token.pos)

    def query(self) -> Query:
        self.expect_keyword("SELECT")
        paths: list[Path] = []
        count_only = False
        if self.token.text.upper() == "COUNT" and self.tokens[self.index + 1].text == "(":
            self.advance()
            self.expect("punct", "(")
            self.expect("punct", ")")
            count_only = True
        else:
            paths.append(self.path())
            while self.token.text == ",":
                self.advance()
                paths.append(self.path())
        self.expect_keyword("FROM")
        sobject = self.token
        if sobject.kind != "ident" or sobject.keyword() or "." in sobject.text:
            raise self.fail()
        self.advance()
        where = None
        if self.at("WHERE"):
            self.advance()
            where = self.condition()
        order: list[OrderItem] = []
        if self.at("ORDER"):
            self.advance()
            self.expect_keyword("BY")
            order.append(self.order_item())
            while self.token.text == ",":
                self.advance()
                order.append(self.order_item())
        limit = self.integer_clause("LIMIT")
        offset = self.integer_clause("OFFSET")
        if self.token.kind != "eof":
            raise self.fail()
        return Query(
            self.text, tuple(paths), count_only, sobject.text, sobject.pos, where, tuple(order), limit, offset
        )

    def integer_clause(self, keyword: str) -> int | None:
        if not self.at(keyword):
            return None
        self.advance()
        token = self.expect("number")
        if not token.text.isdigit():
            raise self.fail(token)
        return int(token.text)

    def order_item(self) -> OrderItem:
        path = self.path()
        descending = False
        if self.at("ASC", "DESC"):
            descending = self.advance().text.upper() == "DESC"
        nulls_last = False  # documented default: null values are sorted first, in either direction
        if self.at("NULLS"):
            self.advance()
            if not self.at("FIRST", "LAST"):
                raise self.fail()
            nulls_last = self.advance().text.upper() == "LAST"
        return OrderItem(path, descending, nulls_last)

    def condition(self) -> Condition:
        items = [self.unary()]
        junction: str | None = None
        while self.at("AND", "OR"):
            keyword = self.token.keyword()
            if junction is not None and keyword != junction:
                raise self.fail()  # SOQL needs parentheses to mix AND and OR
            junction = keyword
            self.advance()
            items.append(self.unary())
        return items[0] if junction is None else Junction(junction, tuple(items))

    def unary(self) -> Condition:
        if self.at("NOT"):
            self.advance()
            return Negation(self.unary())
        if self.token.text == "(":
            self.advance()
            inner = self.condition()
            self.expect("punct", ")")
            return inner
        return self.comparison()

    def comparison(self) -> Comparison:
        path = self.path()
        if self.at("NOT", "IN"):
            negated = self.advance().text.upper() == "NOT"
            if negated:
                self.expect_keyword("IN")
            self.expect("punct", "(")
            values = [self.literal()]
            while self.token.text == ",":
                self.advance()
                values.append(self.literal())
            self.expect("punct", ")")
            return Comparison(path, "NOT IN" if negated else "IN", tuple(values))
        if self.at("LIKE"):
            self.advance()
            token = self.expect("string")
            pattern = decode_string(token.text, like=True, text=self.text, pos=token.pos)
            return Comparison(path, "LIKE", Literal("like", pattern, token.pos, token.text))
        if self.token.kind != "op":
            raise self.fail()
        op = self.advance().text
        return Comparison(path, "!=" if op == "<>" else op, self.literal())

    def literal(self) -> Literal:
        token = self.advance()
        keyword = token.keyword()
        value: Any
        if token.kind == "string":
            return Literal(
                "string",
                decode_string(token.text, like=False, text=self.text, pos=token.pos),
                token.pos,
                token.text,
            )
        if token.kind == "number":
            value = float(token.text) if "." in token.text else int(token.text)
            return Literal("number", value, token.pos, token.text)
        if keyword in ("TRUE", "FALSE"):
            return Literal("boolean", keyword == "TRUE", token.pos, token.text)
        if keyword == "NULL":
            return Literal("null", None, token.pos, token.text)
        if token.kind == "datetime":
            moment: datetime | None = parse_datetime(token.text)
            if moment is None:
                raise self.fail(token)
            return Literal("datetime", moment, token.pos, token.text)
        if token.kind == "date":
            day: date | None = parse_date(token.text)
            if day is None:
                raise self.fail(token)
            return Literal("date", day, token.pos, token.text)
        if token.kind == "ident" and not keyword:
            # Relative date literals (TODAY, LAST_N_DAYS:n, ...) are valid SOQL the emulator lacks.
            raise SoqlError(
                "MALFORMED_QUERY",
                f"unexpected token: '{token.text}' (date literals are not supported by the emulator)",
                self.text,
                token.pos,
            )
        raise self.fail(token)


def parse(text: str) -> Query:
    """Parse a SOQL query; raise SoqlError (MALFORMED_QUERY) on anything outside the subset."""
    return _Parser(text).query()
