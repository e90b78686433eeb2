"""Load and validate mapping files, reporting every problem as ``file:line: key.path: problem``.

A mapping is checked completely before anything runs: first against ``schema.json``,
then for what a schema cannot say (fields outside the allow-list, templates that do
not compile, paths to fields the canonical model does not have, a desk status listed
twice, a YAML key given twice). All problems are raised together so an IT team can fix
a file in one pass.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from importlib import resources
from pathlib import Path
from typing import Any, Literal, cast

import yaml
from jsonschema import Draft202012Validator, ValidationError

from mappings.renderer import key_text, path_problems, template_problems
from mappings.soap_spec import SoapSpec, build_soap_spec, soap_problems

OUR_STATUSES: tuple[str, ...] = ("open", "resolved", "closed")
_PACKAGE = resources.files("mappings")

KeyPath = tuple[str | int, ...]
Problem = tuple[KeyPath, str]


class MappingError(Exception):
    """A mapping (or a preview payload) is unusable; ``problems`` lists every reason."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """How one desk field is computed; ``kind`` says which of the other attributes apply."""

    name: str
    kind: Literal["constant", "path", "map", "template"]
    constant: Any = None
    path: str | None = None
    value_map: dict[str, Any] | None = None
    default: Any = None
    template: str | None = None
    max_length: int | None = None
    redact_pii: bool = False


@dataclass(frozen=True, slots=True)
class MatchStrategy:
    """One way to find the CRM customer behind an author, tried in the mapping's order."""

    strategy: str
    field: str | None = None
    platforms: tuple[str, ...] | None = None
    unique: bool = False  # the field holds unique values (HubSpot reads by it instead of searching)


@dataclass(frozen=True, slots=True)
class CustomerValue:
    """Where the CRM keeps the customer's value (and tier) used by triage."""

    field: str
    tier_field: str | None = None


@dataclass(frozen=True, slots=True)
class FollowupSpec:
    """The desk object each follow-up message becomes (a CaseComment on Salesforce, a note on HubSpot)."""

    object: str = "CaseComment"
    parent_field: str = "ParentId"
    body_field: str = "CommentBody"
    fields: dict[str, Any] = dataclass_field(default_factory=dict)
    association_type_id: int | None = None  # HubSpot: the follow-up → ticket association type


@dataclass(frozen=True, slots=True)
class TargetSpec:
    """The connector's bookkeeping fields on the desk: thread key, status, number, follow-ups."""

    key_field: str | None = None
    status_field: str = "Status"
    number_field: str = "CaseNumber"
    followup: FollowupSpec = dataclass_field(default_factory=FollowupSpec)
    social_posts: bool = False
    parent_field: str | None = None  # a ticket's link to its parent incident (crises)


#: Connectors that upsert tickets on an external id, so their mappings must name it.
KEYED_CONNECTORS: tuple[str, ...] = ("salesforce", "soap")


@dataclass(frozen=True, slots=True)
class Mapping:
    """A validated mapping file."""

    source: str
    connector: str
    object: str
    fields: dict[str, FieldSpec]
    status_map: dict[str, tuple[str, ...]]
    writable_fields: tuple[str, ...]
    lifecycle_policy: str = "reopen"
    reopen_window_days: float | None = None
    customer_match: tuple[MatchStrategy, ...] = ()
    create_unmatched: bool = False
    customer_value: CustomerValue | None = None
    reply_field: str | None = None
    description: str | None = None
    target: TargetSpec | None = None
    soap: SoapSpec | None = None

    def status_for(self, desk_status: str) -> str | None:
        """Return ``open``/``resolved``/``closed`` for a desk status, or None if it is not mapped."""
        for ours, values in self.status_map.items():
            if str(desk_status) in values:
                return ours
        return None

    def desk_status_for(self, ours: str) -> str:
        """Return the first desk status listed for ``ours``; ``closed`` falls back to ``resolved``."""
        values = self.status_map.get(ours, ())
        if not values and ours == "closed":
            values = self.status_map["resolved"]
        if not values:
            raise ValueError(f"unknown status {ours!r}; expected one of {', '.join(OUR_STATUSES)}")
        return values[0]


def _shipped_mappings() -> tuple[str, ...]:
    return tuple(sorted(e.name for e in _PACKAGE.iterdir() if e.name.endswith(".yaml")))


SHIPPED_MAPPINGS: tuple[str, ...] = _shipped_mappings()
_VALIDATOR = Draft202012Validator(json.loads(_PACKAGE.joinpath("schema.json").read_text(encoding="utf-8")))


def resolve_mapping_path(name_or_path: str, base_dir: str | Path) -> Path:
    """Find a mapping file: absolute as is, else under ``base_dir``, else a shipped mapping."""
    candidate = Path(name_or_path)
    if candidate.is_absolute():
        return candidate
    local = Path(base_dir) / candidate
    if local.exists():
        return local
    shipped = _PACKAGE.joinpath(name_or_path)
    if shipped.is_file():
        return Path(str(shipped))
    raise MappingError(
        [
            f"{name_or_path}: no such mapping in {base_dir} and no shipped mapping of that name "
            f"(shipped: {', '.join(SHIPPED_MAPPINGS)})"
        ]
    )


def load_mapping(path: str | os.PathLike[str], base_dir: str | Path = ".") -> Mapping:
    """Read and validate a mapping file; a bare name such as ``local.yaml`` finds the shipped one."""
    resolved = resolve_mapping_path(os.fspath(path), base_dir)
    try:
        text = resolved.read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingError([f"{resolved}: cannot read mapping: {exc.strerror or exc}"]) from None
    except UnicodeDecodeError:
        raise MappingError([f"{resolved}: cannot read mapping: not UTF-8 text"]) from None
    return load_mapping_text(text, str(resolved))


def load_mapping_text(text: str, source: str = "<mapping>") -> Mapping:
    """Validate mapping text; ``source`` names it in problems."""
    data, root = _parse_yaml(text, source)
    problems = [*_schema_problems(data), *_semantic_problems(data), *_duplicate_keys(root, ())]
    if problems:
        raise MappingError(_format(problems, root, source))
    return _build(data, source)


# --- YAML and line numbers -------------------------------------------------------------


def _parse_yaml(text: str, source: str) -> tuple[Any, yaml.Node | None]:
    """Parse once into both the node tree (for line numbers) and plain data."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        raise MappingError([f"{source}:{_yaml_problem(exc)}"]) from None
    except yaml.YAMLError as exc:
        raise MappingError([f"{source}:1: (root): not valid YAML: {exc}"]) from None
    finally:
        loader.dispose()
    return data, root


def _yaml_problem(exc: yaml.MarkedYAMLError) -> str:
    """Say where the parser gave up and, since that is often a line late, what it was inside."""
    mark = exc.problem_mark or exc.context_mark
    text = f"{mark.line + 1 if mark else 1}: (root): not valid YAML: {exc.problem or exc}"
    if exc.context and exc.context_mark and exc.problem_mark:
        text += f" ({exc.context} started on line {exc.context_mark.line + 1})"
    return text


def _line_of(root: yaml.Node | None, path: KeyPath) -> int:
    """Return the 1-based line of the key at ``path``, or of its deepest existing ancestor."""
    if root is None:
        return 1
    node, line = root, root.start_mark.line
    for part in path:
        if isinstance(node, yaml.MappingNode):
            matches = [(k, v) for k, v in node.value if k.value == key_text(part)]
            if not matches:
                break
            key, node = matches[-1]  # YAML keeps the last of duplicate keys; so do we
            line = key.start_mark.line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line
        else:
            break
    return line + 1


def _key_path(path: KeyPath) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) and not isinstance(part, bool) else f".{part}"
    return text.lstrip(".") or "(root)"


def _format(problems: list[Problem], root: yaml.Node | None, source: str) -> list[str]:
    """Format problems as ``file:line: key.path: problem``, in file order, without repeats."""
    lines = [(_line_of(root, path), _key_path(path), message) for path, message in problems]
    ordered = sorted(dict.fromkeys(lines), key=lambda item: item[0])
    return [f"{source}:{line}: {key}: {message}" for line, key, message in ordered]


def _duplicate_keys(node: yaml.Node | None, path: KeyPath) -> Iterator[Problem]:
    """Report keys given twice: YAML silently keeps the last, which hides mistakes."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode):
                continue
            if key.value in seen:
                yield (*path, key.value), "key is given more than once; only the last one would count"
            seen.add(key.value)
            yield from _duplicate_keys(value, (*path, key.value))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _duplicate_keys(item, (*path, index))


# --- schema problems -------------------------------------------------------------------

_JSON_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "boolean"),
    (int, "integer"),
    (float, "number"),
    (str, "string"),
    (list, "list"),
    (dict, "mapping"),
    (type(None), "null"),
)
_TYPE_WORDS = {"object": "mapping", "array": "list"}


def _json_type(value: Any) -> str:
    return next((name for kind, name in _JSON_TYPES if isinstance(value, kind)), type(value).__name__)


@dataclass(frozen=True, slots=True)
class _Failure:
    """One schema failure, with jsonschema's loosely typed attributes pinned down."""

    path: KeyPath
    instance: Any
    expected: Any  # the failing keyword's value in the schema
    schema: dict[str, Any]
    message: str

    @classmethod
    def of(cls, error: ValidationError) -> _Failure:
        schema = error.schema if isinstance(error.schema, dict) else {}
        path = tuple(error.absolute_path)
        if "propertyNames" in error.relative_schema_path:  # the bad value is the key itself
            path = (*path, cast(str, error.instance))
        return cls(path, error.instance, error.validator_value, schema, error.message)

    def at(self, message: str, *key: str | int) -> Problem:
        return (*self.path, *key), message


def _schema_problems(data: Any) -> list[Problem]:
    problems: list[Problem] = []
    for error in _VALIDATOR.iter_errors(data):
        describe = _DESCRIBERS.get(str(error.validator), _as_reported)
        problems.extend(describe(_Failure.of(error)))
    return problems


def _as_reported(f: _Failure) -> list[Problem]:
    return [f.at(f.message)]


def _unknown_keys(f: _Failure) -> list[Problem]:
    known = sorted(f.schema.get("properties", {}))
    return [
        f.at(f"unknown key; expected one of {', '.join(known)}", key)
        for key in f.instance
        if key not in known
    ]


def _missing_keys(f: _Failure) -> list[Problem]:
    return [f.at("required key is missing", key) for key in f.expected if key not in f.instance]


def _missing_dependencies(f: _Failure) -> list[Problem]:
    problems: list[Problem] = []
    for key, needs in f.expected.items():
        missing = [need for need in needs if key in f.instance and need not in f.instance]
        if missing:
            problems.append(f.at(f"needs {' and '.join(missing)} as well", key))
    return problems


def _not_exactly_one(f: _Failure) -> list[Problem]:
    """Explain a ``oneOf`` of single required keys (a field spec) in the mapping's own words."""
    choices = [branch["required"][0] for branch in f.expected if set(branch) == {"required"}]
    if len(choices) != len(f.expected):
        return _as_reported(f)
    present = [choice for choice in choices if choice in f.instance]
    wanted = f"exactly one of {', '.join(choices)}"
    return [f.at(f"has {' and '.join(present)}; use {wanted}" if present else f"needs {wanted}")]


def _wrong_type(f: _Failure) -> list[Problem]:
    wanted = f.expected if isinstance(f.expected, list) else [f.expected]
    words = " or ".join(_TYPE_WORDS.get(str(word), str(word)) for word in wanted)
    return [f.at(f"must be of type {words}, not {_json_type(f.instance)}")]


def _no_match(f: _Failure) -> list[Problem]:
    title = str(f.schema.get("title", "value")).lower()
    return [f.at(f"{f.instance!r} is not a valid {title} (must match {f.expected})")]


_DESCRIBERS: dict[str, Callable[[_Failure], list[Problem]]] = {
    "additionalProperties": _unknown_keys,
    "required": _missing_keys,
    "dependentRequired": _missing_dependencies,
    "oneOf": _not_exactly_one,
    "type": _wrong_type,
    "pattern": _no_match,
    "const": lambda f: [f.at(f"must be {f.expected!r}, not {f.instance!r}")],
    "enum": lambda f: [f.at(f"{f.instance!r} is not one of {', '.join(map(str, f.expected))}")],
    "minItems": lambda f: [f.at(f"must list at least {f.expected} item(s)")],
    "minProperties": lambda f: [f.at(f"must have at least {f.expected} entry(ies)")],
    "minLength": lambda f: [f.at("must not be empty")],
    "minimum": lambda f: [f.at(f"must be at least {f.expected}, not {f.instance!r}")],
    "uniqueItems": lambda f: [f.at("lists the same value more than once")],
}


# --- semantic problems -----------------------------------------------------------------


def _semantic_problems(data: Any) -> list[Problem]:
    """Check what the schema cannot; every check tolerates data the schema already rejected."""
    if not isinstance(data, dict):
        return []
    return [
        *_unwritable_fields(data),
        *_field_spec_problems(data),
        *_duplicate_statuses(data),
        *_missing_key_field(data),
        *soap_problems(data),
    ]


def _unwritable_fields(data: dict[str, Any]) -> Iterator[Problem]:
    fields, writable = data.get("fields"), data.get("writable_fields")
    if not isinstance(fields, dict) or not isinstance(writable, list):
        return
    for name in fields:
        if name not in writable:
            yield ("fields", name), f"{name!r} is not in writable_fields"


def _field_spec_problems(data: dict[str, Any]) -> Iterator[Problem]:
    fields = data.get("fields")
    if not isinstance(fields, dict):
        return
    for name, spec in fields.items():
        if not isinstance(spec, dict):
            continue
        for key, check in (("path", path_problems), ("template", template_problems)):
            if isinstance(spec.get(key), str):
                yield from ((("fields", name, key), problem) for problem in check(spec[key]))


def _missing_key_field(data: dict[str, Any]) -> Iterator[Problem]:
    """Upserting connectors need the External ID field that holds the thread key."""
    connector = data.get("connector")
    if connector not in KEYED_CONNECTORS:
        return
    target = data.get("target")
    need = f"required for {connector} mappings: the External ID field holding the thread key"
    if target is None:
        yield ("target",), f"{need} (target.key_field)"
    elif isinstance(target, dict) and "key_field" not in target:
        yield ("target", "key_field"), need


def _duplicate_statuses(data: dict[str, Any]) -> Iterator[Problem]:
    status_map = data.get("status_map")
    if not isinstance(status_map, dict):
        return
    first_seen: dict[str, str] = {}
    for ours, values in status_map.items():
        for index, value in enumerate(values if isinstance(values, list) else []):
            text = key_text(value)
            if text in first_seen:
                yield (
                    ("status_map", ours, index),
                    f"desk status {value!r} is already listed under {first_seen[text]}",
                )
            else:
                first_seen[text] = f"status_map.{ours}"


# --- building the typed mapping --------------------------------------------------------


def _build(data: dict[str, Any], source: str) -> Mapping:
    """Turn validated data into a :class:`Mapping` (every key was checked already)."""
    lifecycle = data.get("lifecycle", {})
    value = data.get("customer_value")
    reply = data.get("reply")
    return Mapping(
        source=source,
        connector=data["connector"],
        object=data["object"],
        fields={name: _field_spec(name, spec) for name, spec in data["fields"].items()},
        status_map={
            ours: tuple(key_text(v) for v in data["status_map"].get(ours, [])) for ours in OUR_STATUSES
        },
        writable_fields=tuple(data["writable_fields"]),
        lifecycle_policy=lifecycle.get("policy", "reopen"),
        reopen_window_days=lifecycle.get("reopen_window_days"),
        customer_match=tuple(_strategy(item) for item in data.get("customer_match", [])),
        create_unmatched=data.get("create_unmatched", False),
        customer_value=CustomerValue(value["field"], value.get("tier_field")) if value else None,
        reply_field=reply["field"] if reply else None,
        description=data.get("description"),
        target=_target(data["target"]) if "target" in data else None,
        soap=build_soap_spec(data["soap"], Path(source).parent) if "soap" in data else None,
    )


def _target(data: dict[str, Any]) -> TargetSpec:
    followup = data.get("followup", {})
    return TargetSpec(
        key_field=data.get("key_field"),
        status_field=data.get("status_field", "Status"),
        number_field=data.get("number_field", "CaseNumber"),
        followup=FollowupSpec(
            object=followup.get("object", "CaseComment"),
            parent_field=followup.get("parent_field", "ParentId"),
            body_field=followup.get("body_field", "CommentBody"),
            fields=dict(followup.get("fields", {})),
            association_type_id=followup.get("association_type_id"),
        ),
        social_posts=bool(data.get("social_posts", False)),
        parent_field=data.get("parent_field"),
    )


def _field_spec(name: str, spec: dict[str, Any]) -> FieldSpec:
    redact = bool(spec.get("redact_pii", False))
    if "constant" in spec:
        return FieldSpec(name, "constant", constant=spec["constant"], redact_pii=redact)
    if "template" in spec:
        return FieldSpec(
            name, "template", template=spec["template"], max_length=spec.get("max_length"), redact_pii=redact
        )
    if "map" in spec:
        value_map = {key_text(key): value for key, value in spec["map"].items()}
        return FieldSpec(
            name, "map", path=spec["path"], value_map=value_map, default=spec["default"], redact_pii=redact
        )
    return FieldSpec(name, "path", path=spec["path"], default=spec.get("default"), redact_pii=redact)


def _strategy(item: dict[str, Any]) -> MatchStrategy:
    platforms: Sequence[str] | None = item.get("platforms")
    return MatchStrategy(
        item["strategy"],
        item.get("field"),
        tuple(platforms) if platforms else None,
        bool(item.get("unique", False)),
    )
