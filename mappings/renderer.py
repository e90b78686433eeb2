"""Compute a desk's field values from the canonical records, as a mapping says.

Templates are written by IT teams, not by us, so they run in Jinja2's immutable
sandbox with nothing but the context roots: no globals, no attribute access to
dunders, no mutation of the context.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from dataclasses import asdict
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from jinja2 import ChainableUndefined, Template, TemplateSyntaxError, meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from connector.model import Author, Customer, Engagement, Interaction, Triage

if TYPE_CHECKING:
    from mappings.loader import FieldSpec, Mapping

#: The only names a path or template may start with.
ROOTS: tuple[str, ...] = ("interaction", "author", "customer", "triage", "desk")

REDACTED = "[redacted]"
_ELLIPSIS = "…"
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# 9 to 15 digits (E.164 allows 15) with spaces, dots, dashes or brackets between them;
# shorter separated numbers are usually dates ("2024-01-15") or amounts, not phones.
_PHONE = re.compile(r"(?<![\w+])\+?\(?\d(?:[\s().-]{0,2}\d){8,14}(?!\d)")
_LONG_DIGITS = re.compile(r"\d{8,}")


class RenderError(Exception):
    """A field could not be computed; the ticket is not written."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _sandbox() -> ImmutableSandboxedEnvironment:
    """Build the template environment; globals are removed so only the context roots exist."""
    env = ImmutableSandboxedEnvironment(undefined=ChainableUndefined, autoescape=False)
    env.globals.clear()
    return env


SANDBOX = _sandbox()


@lru_cache(maxsize=512)
def compile_template(source: str) -> Template:
    """Compile a template once; the loader has already checked that it compiles."""
    return SANDBOX.from_string(source)


def _model_fields(cls: type, **nested: dict[str, Any] | None) -> dict[str, Any]:
    """Map each dataclass field to None (a leaf) or to its nested fields; ``raw`` never reaches desks."""
    return {f.name: nested.get(f.name) for f in dataclasses.fields(cls) if f.name != "raw"}


_AUTHOR_FIELDS = _model_fields(Author)
#: The shape of the context :func:`build_context` returns, so a typo in a path fails at
#: load time instead of silently writing the default.
CONTEXT_SHAPE: dict[str, Any] = {
    "interaction": _model_fields(Interaction, author=_AUTHOR_FIELDS, engagement=_model_fields(Engagement)),
    "author": _AUTHOR_FIELDS,
    "customer": _model_fields(Customer),
    "triage": _model_fields(Triage),
    "desk": {"name": None},
}


def path_problems(path: str) -> Iterator[str]:
    """Say what is wrong with a dotted path, if anything: unknown root or unknown field."""
    parts = path.split(".")
    if parts[0] not in ROOTS:
        yield f"path {path!r} must start with one of {', '.join(ROOTS)}"
        return
    shape: Any = CONTEXT_SHAPE
    for depth, part in enumerate(parts):
        prefix = ".".join(parts[:depth])
        if shape is None:
            yield f"path {path!r} goes past {prefix}, which has no fields"
            return
        if part not in shape:
            yield f"path {path!r}: {prefix} has no field {part!r} (known: {', '.join(shape)})"
            return
        shape = shape[part]


def template_problems(template: str) -> Iterator[str]:
    """Say why a template cannot run, if it cannot: a syntax error or a name outside the roots."""
    try:
        tree = SANDBOX.parse(template)
    except TemplateSyntaxError as exc:
        yield f"template does not compile: {exc.message} (template line {exc.lineno})"
        return
    for name in sorted(meta.find_undeclared_variables(tree) - set(ROOTS)):
        yield f"template uses {name!r}; only {', '.join(ROOTS)} are available"


def build_context(
    interaction: Interaction,
    author: Author,
    customer: Customer | None,
    triage: Triage | None,
    desk_name: str,
) -> dict[str, Any]:
    """Turn the canonical records into the plain, JSON-like dicts paths and templates read.

    ``raw`` is left out of ``interaction`` on purpose: platform payloads must not leak
    into desks through mappings.
    """
    interaction_data = interaction.to_dict()
    interaction_data.pop("raw", None)
    return {
        "interaction": interaction_data,
        "author": asdict(author),
        "customer": asdict(customer) if customer is not None else None,
        "triage": triage.to_dict() if triage is not None else None,
        "desk": {"name": desk_name},
    }


def render_fields(mapping: Mapping, context: dict[str, Any]) -> dict[str, Any]:
    """Compute every field of ``mapping``; raise :class:`RenderError` on the first failure."""
    allowed = set(mapping.writable_fields)
    roots = {root: context.get(root) for root in ROOTS}
    values: dict[str, Any] = {}
    for name, spec in mapping.fields.items():
        if name not in allowed:  # the loader refuses this; checked again so nothing slips through
            raise RenderError(name, "is not in writable_fields")
        values[name] = render_field(spec, roots)
    return values


def render_field(spec: FieldSpec, context: dict[str, Any]) -> Any:
    """Compute one field: the spec's value, then redaction, then truncation."""
    if spec.kind == "constant":
        value = spec.constant
    elif spec.kind == "template":
        value = _render_template(spec, context)
    else:
        value = _lookup(context, spec.path or "")
        if value is None:
            value = spec.default
        elif spec.value_map is not None:
            value = spec.value_map.get(key_text(value), spec.default)
    if spec.redact_pii and isinstance(value, str):
        value = redact(value)
    if spec.max_length is not None and isinstance(value, str):
        value = truncate(value, spec.max_length)
    return value


def _render_template(spec: FieldSpec, context: dict[str, Any]) -> str:
    try:
        return compile_template(spec.template or "").render(context)
    except Exception as exc:  # any failure of IT-written code is reported, never propagated raw
        raise RenderError(spec.name, f"template failed: {type(exc).__name__}: {exc}") from exc


def _lookup(context: dict[str, Any], path: str) -> Any:
    """Follow a dotted path through nested dicts; None when any step is missing."""
    value: Any = context
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def key_text(value: Any) -> str:
    """Spell a value as a value-map key: YAML's ``true``/``false``/``null``, else ``str``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def redact(text: str) -> str:
    """Replace emails, phone numbers and runs of 8+ digits with ``[redacted]``."""
    for pattern in (_EMAIL, _PHONE, _LONG_DIGITS):
        text = pattern.sub(REDACTED, text)
    return text


def truncate(text: str, max_length: int) -> str:
    """Cut ``text`` to ``max_length`` characters, marking the cut with an ellipsis."""
    if len(text) <= max_length:
        return text
    return text[: max_length - 1].rstrip() + _ELLIPSIS
