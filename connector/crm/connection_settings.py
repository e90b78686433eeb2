"""Validate a desk's ``connections.<name>`` block into a connector's settings model."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from connector.config import Config, ConfigError
from mappings import MappingError, resolve_mapping_path

SettingsT = TypeVar("SettingsT", bound=BaseModel)


def load_connection_settings(
    model: type[SettingsT],
    kind: str,
    connections: dict[str, dict[str, Any]],
    name: str,
    base_dir: Path,
    path_keys: Sequence[str] = ("ca_bundle",),
) -> SettingsT:
    """Resolve file paths against the config's folder and validate; errors name the key, never a secret."""
    where = f"connections.{name}"
    if name not in connections:
        raise ConfigError(f"{where}: missing; a {kind} desk needs its connection settings")
    data = dict(connections[name] or {})
    for key in path_keys:
        if isinstance(data.get(key), str) and not Path(data[key]).is_absolute():
            data[key] = str(base_dir / data[key])
    if isinstance(data.get("ca_bundle"), str) and not Path(data["ca_bundle"]).is_file():
        raise ConfigError(f"{where}.ca_bundle: no such file: {data['ca_bundle']}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            key = ".".join(str(part) for part in error["loc"])
            problems.append(f"{where}{'.' + key if key else ''}: {error['msg']}")
        raise ConfigError("\n".join(problems)) from None


def connection_for(config: Config, kind: str, mapping_path: Path) -> str:
    """The connection of the ``kind`` desk using this mapping file, else of the first such desk."""
    desks = [desk for desk in config.desks if desk.connector == kind]
    for desk in desks:
        try:
            used = resolve_mapping_path(desk.mapping, config.base_dir)
        except MappingError:
            continue
        if used.resolve() == mapping_path.resolve():
            return desk.connection or kind
    return (desks[0].connection if desks else None) or kind


class MemoryState:
    """Connector state for a one-off command (``mappings validate --live``): nothing is kept."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], Any] = {}

    def get_state(self, scope: str, key: str) -> Any:
        return self.values.get((scope, key))

    def set_state(self, scope: str, key: str, value: Any) -> None:
        self.values[(scope, key)] = value
