"""Load the one YAML configuration file, expanding ``${ENV}`` references for secrets.

Secrets are ``SecretStr`` so they never show up in ``repr``, logs or error messages.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)

from connector.model import PLATFORMS, PRIORITIES

ENV_VAR = "VENTANILLA_CONFIG"
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(Exception):
    """The configuration file is missing, malformed or refers to an unset variable."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _ids_as_strings(value: Any) -> Any:
    """Platform ids are strings even when YAML reads them as (64-bit, lossy in JSON) numbers."""
    return [str(v) for v in value] if isinstance(value, list) else value


IdList = Annotated[list[str], BeforeValidator(_ids_as_strings)]


class ApiClientSettings(_Strict):
    """How we reach a platform's API: tests point ``*_base_url`` at local emulators."""

    timeout_s: float = Field(default=10.0, gt=0)
    ca_bundle: str | None = None
    max_retries: int = Field(default=3, ge=1, le=10)


class MetaSettings(ApiClientSettings):
    app_secret: SecretStr | None = None
    verify_token: SecretStr | None = None
    brand_account_ids: IdList = Field(default_factory=list)
    graph_base_url: str = "https://graph.facebook.com"
    api_version: str = Field(default="v21.0", pattern=r"^v\d+\.\d+$")
    page_access_token: SecretStr | None = None
    #: An Instagram User token (Instagram API with Instagram Login); defaults to the Page token.
    instagram_access_token: SecretStr | None = None
    #: True when the Instagram account uses Instagram Login (DMs via /{ig-user-id}/messages).
    instagram_login: bool = False
    page_id: str | None = None
    instagram_account_id: str | None = None
    #: The Page has Meta's Human Agent feature: DMs may be answered up to 7 days late.
    human_agent: bool = False
    #: Hide public Facebook / Instagram comments in which triage found personal data.
    hide_comments_with_pii: bool = False


class XSettings(ApiClientSettings):
    consumer_secret: SecretStr | None = None
    brand_user_ids: IdList = Field(default_factory=list)
    api_base_url: str = "https://api.x.com"
    #: An OAuth 2.0 user-context token, or the OAuth 1.0a access token with its secret.
    access_token: SecretStr | None = None
    access_token_secret: SecretStr | None = None
    consumer_key: SecretStr | None = None


class GenericSource(_Strict):
    secret: SecretStr


class GenericSettings(_Strict):
    sources: dict[str, GenericSource] = Field(default_factory=dict)


class Platforms(_Strict):
    meta: MetaSettings = Field(default_factory=MetaSettings)
    x: XSettings = Field(default_factory=XSettings)
    generic: GenericSettings = Field(default_factory=GenericSettings)


class Routing(_Strict):
    """Which interactions a desk takes; every condition given must hold."""

    platforms: list[str] | None = None
    natures: list[str] | None = None
    min_priority: str | None = None

    @field_validator("platforms")
    @classmethod
    def _known_platforms(cls, value: list[str] | None) -> list[str] | None:
        for platform in value or []:
            if platform not in PLATFORMS:
                raise ValueError(f"unknown platform {platform!r}; expected one of {', '.join(PLATFORMS)}")
        return value

    @field_validator("min_priority")
    @classmethod
    def _known_priority(cls, value: str | None) -> str | None:
        if value is not None and value not in PRIORITIES:
            raise ValueError(f"unknown priority {value!r}; expected one of {', '.join(PRIORITIES)}")
        return value


class Desk(_Strict):
    name: str
    connector: Literal["local", "salesforce", "hubspot", "soap"] = "local"
    mapping: str = "local.yaml"
    connection: str | None = None
    #: ``serve`` reads this desk's status changes every this many minutes (0: only
    #: ``ventanilla sync poll``); desks that call us back can keep it as a safety net.
    poll_interval_minutes: float = Field(default=5, ge=0)
    when: Routing | None = None


class PublishSettings(_Strict):
    """``live`` posts, ``dry-run`` only records, ``approve`` waits for ``ventanilla replies approve``."""

    mode: Literal["dry-run", "live", "approve"] = "dry-run"


class ReconcileSettings(_Strict):
    """The poller that fetches what the webhooks missed (``ventanilla reconcile``)."""

    #: Run inside ``serve`` every this many minutes; 0 turns the schedule off.
    interval_minutes: float = Field(default=15, ge=0)
    #: How far back a run looks when none has run before.
    lookback_hours: float = Field(default=24, gt=0)
    #: How many recent posts / media per account are searched for comments.
    max_posts: int = Field(default=25, ge=1, le=500)


class ApiSettings(_Strict):
    token: SecretStr | None = None


class LifecycleSettings(_Strict):
    reopen_window_days: float = Field(default=7, ge=0)


class DispatcherSettings(_Strict):
    workers: int = Field(default=2, ge=1, le=64)
    batch_size: int = Field(default=200, ge=1, le=1000)
    lease_seconds: float = Field(default=120, gt=0)
    max_attempts: int = Field(default=8, ge=1)
    backoff_base_seconds: float = Field(default=2, gt=0)
    backoff_max_seconds: float = Field(default=3600, gt=0)
    poll_interval_seconds: float = Field(default=0.5, gt=0)


class BusinessHours(_Strict):
    """When SLA clocks run; outside these hours they stop (weekends, nights)."""

    timezone: str = "Europe/Madrid"
    days: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4], description="0 = Monday")
    start: str = Field(default="09:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    end: str = Field(default="18:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")


AXES = ("risk", "influence", "value")
LEVELS = ("low", "mid", "high")


class PriorityMatrix(_Strict):
    """Value, risk and influence each rated low / mid / high, then the first matching rule wins.

    ``levels`` are the lower bounds of mid and high for each axis (scores are 0..1);
    ``rules`` map a pattern such as ``{risk: high}`` or ``{risk: mid, influence: high}``
    to a priority; anything unmatched is ``default``. Safety is P1 whatever the matrix says.
    """

    levels: dict[str, tuple[float, float]] = Field(
        default_factory=lambda: {"risk": (0.3, 0.7), "influence": (0.5, 0.75), "value": (0.6, 1.0)}
    )
    rules: list[dict[str, str]] = Field(
        default_factory=lambda: [
            {"risk": "high", "influence": "high", "priority": "P1"},
            {"risk": "high", "value": "high", "priority": "P1"},
            {"risk": "high", "priority": "P2"},
            {"risk": "mid", "influence": "high", "priority": "P2"},
            {"risk": "mid", "value": "high", "priority": "P2"},
            {"risk": "mid", "priority": "P3"},
            {"influence": "high", "priority": "P3"},
            {"value": "high", "priority": "P3"},
        ]
    )
    default: str = "P4"

    @field_validator("levels")
    @classmethod
    def _known_axes(cls, value: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
        for axis, (mid, high) in value.items():
            if axis not in AXES:
                raise ValueError(f"unknown axis {axis!r}; expected one of {', '.join(AXES)}")
            if not 0 <= mid <= high <= 1:
                raise ValueError(f"{axis}: expected 0 <= mid <= high <= 1, got ({mid}, {high})")
        return value

    @field_validator("rules")
    @classmethod
    def _valid_rules(cls, value: list[dict[str, str]]) -> list[dict[str, str]]:
        for index, rule in enumerate(value):
            if rule.get("priority") not in PRIORITIES:
                raise ValueError(f"rules[{index}]: priority must be one of {', '.join(PRIORITIES)}")
            for axis, level in rule.items():
                if axis == "priority":
                    continue
                if axis not in AXES or level not in LEVELS:
                    raise ValueError(
                        f"rules[{index}]: {axis}: {level!r}; axes are {', '.join(AXES)}, "
                        f"levels {', '.join(LEVELS)}"
                    )
        return value

    def priority(self, scores: dict[str, float]) -> str:
        """Rate each axis low / mid / high and return the first matching rule's priority."""
        rated = {axis: self.level(axis, score) for axis, score in scores.items()}
        for rule in self.rules:
            if all(rated.get(axis) == level for axis, level in rule.items() if axis != "priority"):
                return rule["priority"]
        return self.default

    def level(self, axis: str, score: float) -> str:
        mid, high = self.levels.get(axis, (0.5, 0.75))
        return "high" if score >= high else "mid" if score >= mid else "low"


class TriageSettings(_Strict):
    languages: list[str] = Field(default_factory=lambda: ["es", "en"])
    default_language: str = "es"
    sla_hours: dict[str, float] = Field(
        default_factory=lambda: {"P1": 1.0, "P2": 4.0, "P3": 24.0, "P4": 72.0}
    )
    value_tiers: dict[str, float] = Field(default_factory=lambda: {"top": 50_000.0, "mid": 5_000.0})
    #: Regions whose national phone formats are recognised (ISO 3166 alpha-2).
    phone_regions: list[str] = Field(default_factory=lambda: ["ES", "MX", "AR", "CO", "GB", "US"])
    #: Countries whose national identity numbers are recognised (python-stdnum modules).
    national_id_countries: list[str] = Field(default_factory=lambda: ["es", "gb", "us", "mx"])
    #: A YAML file of the brand's own terms per nature (relative to the configuration file).
    terms_file: str | None = None
    #: A Python entry point (group ``ventanilla.classifiers``) replacing the nature classifier.
    classifier: str | None = None
    #: The learned nature model that votes with the word lists: ``builtin`` (shipped), a file
    #: written by ``ventanilla triage train`` (relative to the configuration file), or null.
    nature_model: str | None = "builtin"
    #: What the word lists' verdict adds to the model's probability of that nature.
    rules_weight: float = Field(default=0.1, ge=0, le=1)
    #: The model's probability of safety that is enough to say safety (lower misses less).
    safety_threshold: float = Field(default=0.25, gt=0, le=1)
    #: The word lists' safety verdict stands unless the model gives safety less than this
    #: (0: it always stands).
    rules_safety_floor: float = Field(default=0.03, ge=0, lt=1)
    priority_matrix: PriorityMatrix = Field(default_factory=PriorityMatrix)
    business_hours: BusinessHours | None = None


class CrisisSettings(_Strict):
    """A burst of negative interactions on one topic, compared with its own baseline."""

    enabled: bool = True
    window_minutes: float = Field(default=10, gt=0)
    #: At least this many negative interactions on the topic inside the window …
    min_count: int = Field(default=20, ge=2)
    #: … and this many times the topic's usual rate over the baseline period.
    ratio: float = Field(default=5.0, ge=1)
    baseline_hours: float = Field(default=24, gt=0)
    #: A raised crisis stays open (new interactions join it) until quiet this long.
    cooldown_hours: float = Field(default=6, gt=0)
    #: Slack-compatible incoming webhook (JSON with "text"); none: only logged and audited.
    webhook_url: str | None = None
    #: The desk that gets the parent incident ticket (default: the first desk).
    desk: str | None = None


class SlaSettings(_Strict):
    """The monitor inside ``serve`` that warns before and at an SLA breach."""

    monitor_interval_seconds: float = Field(default=60, gt=0)
    #: Warn when this fraction of the SLA has elapsed without an answer.
    warn_at_fraction: float = Field(default=0.8, gt=0, lt=1)
    #: Slack-compatible incoming webhook for warnings and breaches; none: only logged.
    webhook_url: str | None = None


class BrandSettings(_Strict):
    name: str | None = None
    private_channel_hint: str | None = None


class Limits(_Strict):
    max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    max_json_depth: int = Field(default=64, gt=0)


class Config(_Strict):
    database_url: str = "sqlite:///ventanilla.db"
    platforms: Platforms = Field(default_factory=Platforms)
    desks: list[Desk] = Field(default_factory=lambda: [Desk(name="support")])
    connections: dict[str, dict[str, Any]] = Field(default_factory=dict)
    publish: PublishSettings = Field(default_factory=PublishSettings)
    reconcile: ReconcileSettings = Field(default_factory=ReconcileSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    lifecycle: LifecycleSettings = Field(default_factory=LifecycleSettings)
    dispatcher: DispatcherSettings = Field(default_factory=DispatcherSettings)
    triage: TriageSettings = Field(default_factory=TriageSettings)
    crisis: CrisisSettings = Field(default_factory=CrisisSettings)
    sla: SlaSettings = Field(default_factory=SlaSettings)
    brand: BrandSettings = Field(default_factory=BrandSettings)
    limits: Limits = Field(default_factory=Limits)
    base_dir: str = "."

    @field_validator("desks")
    @classmethod
    def _unique_desks(cls, value: list[Desk]) -> list[Desk]:
        if not value:
            raise ValueError("at least one desk is required")
        names = [d.name for d in value]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"desk names must be unique: {', '.join(duplicates)}")
        return value

    def desk(self, name: str) -> Desk:
        """Return the desk called ``name``."""
        for desk in self.desks:
            if desk.name == name:
                return desk
        raise KeyError(name)

    def resolve_path(self, path: str) -> Path:
        """Resolve a path relative to the configuration file's folder."""
        candidate = Path(path)
        return candidate if candidate.is_absolute() else Path(self.base_dir) / candidate


def expand_env(value: Any, where: str = "") -> Any:
    """Replace ``${NAME}`` / ``${NAME:-default}`` in every string of a YAML tree."""
    if isinstance(value, dict):
        return {k: expand_env(v, f"{where}.{k}" if where else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_env(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in os.environ:
                return os.environ[name]
            if default is not None:
                return default
            raise ConfigError(f"{where}: environment variable {name} is not set")

        return _ENV_REF.sub(substitute, value)
    return value


def _format_validation(error: ValidationError, source: str) -> str:
    lines = []
    for problem in error.errors():
        key = ".".join(str(part) for part in problem["loc"]) or "(root)"
        lines.append(f"{source}: {key}: {problem['msg']}")
    return "\n".join(lines)


def config_from_dict(data: dict[str, Any], source: str = "<config>", base_dir: str = ".") -> Config:
    """Validate an already-parsed configuration tree."""
    expanded = expand_env(data)
    expanded.setdefault("base_dir", base_dir)
    triage = expanded.get("triage")
    if isinstance(triage, dict):
        # Files named in triage are relative to the configuration file, like mappings: they
        # travel with it. "builtin" names the shipped nature model, not a file.
        for key in ("terms_file", "nature_model"):
            if isinstance(triage.get(key), str) and (key, triage[key]) != ("nature_model", "builtin"):
                triage[key] = str(Path(expanded["base_dir"]) / triage[key])
    try:
        return Config.model_validate(expanded)
    except ValidationError as exc:
        raise ConfigError(_format_validation(exc, source)) from None


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Load the configuration from ``path``, ``$VENTANILLA_CONFIG``, or the built-in defaults."""
    chosen = path or os.environ.get(ENV_VAR)
    if not chosen:
        return config_from_dict({})
    file = Path(chosen)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read configuration: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: the configuration must be a mapping at the top level")
    return config_from_dict(data, source=str(file), base_dir=str(file.resolve().parent))
