"""The typed configuration: every setting Detektor reads, validated once at start.

Sources, highest priority first: environment (prefix ``DETEKTOR_``, nested sections with
``__``), then the YAML file named by ``DETEKTOR_CONFIG``, then defaults. Unknown keys are
errors (``extra="forbid"``) so that a typo never silently falls back to a default.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from detektor.kit.redact import mask_secret
from detektor.pipeline.settings import BusSettings, ProcessorSettings
from detektor.services.capture.settings import CameraSettings
from detektor.services.detector.settings import DetectorSettings
from detektor.services.example.settings import ExampleSettings
from detektor.services.notifier.settings import NotifierSettings
from detektor.services.objects.settings import ObjectsSettings
from detektor.services.recordings.settings import RecordingsSettings
from detektor.services.tracking.settings import TrackingSettings

CONFIG_ENV = "DETEKTOR_CONFIG"
_SECRET_NAME = re.compile(r"token|password|secret|credential", re.IGNORECASE)
_DATABASE_SCHEMES = ("postgresql://", "postgres://", "sqlite:///", "memory://")


class ConfigError(Exception):
    """Configuration that cannot be used; the message names each bad field."""


class LogSettings(BaseModel):
    """How logs are written."""

    model_config = ConfigDict(extra="forbid")

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["auto", "json", "text"] = Field(
        default="auto", description="auto: human-readable on a terminal, JSON lines otherwise"
    )


class Settings(BaseSettings):
    """Everything a Detektor process is configured with."""

    model_config = SettingsConfigDict(
        env_prefix="DETEKTOR_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    http_host: str = Field(default="0.0.0.0", description="address the HTTP API binds to")
    http_port: int = Field(default=8000, ge=1, le=65535, description="port of the HTTP API")
    http_metrics: bool = Field(
        default=True, description="record per-route request counts and latencies"
    )
    http_max_body_bytes: int = Field(
        default=1_048_576, ge=1024, description="largest request body a route accepts"
    )
    api_token: SecretStr | None = Field(
        default=None, description="when set, every route but health and metrics needs it"
    )
    shutdown_timeout_s: float = Field(
        default=10.0, gt=0, le=600, description="how long SIGTERM waits for in-flight work"
    )
    database_url: SecretStr = Field(
        default=SecretStr("sqlite:///detektor.db"),
        description="postgresql://… or sqlite:///path",
    )
    redis_url: SecretStr = Field(default=SecretStr("redis://127.0.0.1:6379/0"))
    mqtt_url: SecretStr | None = Field(default=None, description="mqtt://user:pass@host:1883")
    link_secret: SecretStr | None = Field(
        default=None,
        description="key that signs snapshot links; unset: generated once in data_dir",
    )
    jaeger_ui_url: str | None = Field(
        default=None, description="base URL of the Jaeger UI, used to link frames to traces"
    )
    alertmanager_url: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="base URL of Alertmanager; the UI's System page shows its firing alerts",
    )
    data_dir: Path = Field(
        default=Path("detektor-data"), description="where `detektor run` keeps its SQLite store"
    )
    cameras: list[CameraSettings] = Field(
        default_factory=list, description="cameras (usually in the DETEKTOR_CONFIG YAML file)"
    )
    log: LogSettings = Field(default_factory=LogSettings)
    bus: BusSettings = Field(default_factory=BusSettings)
    processor: ProcessorSettings = Field(default_factory=ProcessorSettings)
    detector: DetectorSettings = Field(default_factory=DetectorSettings)
    example: ExampleSettings = Field(default_factory=ExampleSettings)
    tracking: TrackingSettings = Field(default_factory=TrackingSettings)
    notifier: NotifierSettings = Field(default_factory=NotifierSettings)
    objects: ObjectsSettings = Field(default_factory=ObjectsSettings)
    recordings: RecordingsSettings = Field(default_factory=RecordingsSettings)

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: SecretStr) -> SecretStr:
        url = value.get_secret_value()
        if not url.startswith(_DATABASE_SCHEMES):
            raise ValueError(
                "use postgresql://user:password@host:5432/db, sqlite:///relative/path.db, "
                "sqlite:////absolute/path.db or memory://"
            )
        return value

    @field_validator("cameras")
    @classmethod
    def _unique_cameras(cls, cameras: list[CameraSettings]) -> list[CameraSettings]:
        names = [c.name for c in cameras]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"camera names must be unique; repeated: {', '.join(twice)}")
        return cameras

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _YamlFileSource(settings_cls))


class _YamlFileSource(PydanticBaseSettingsSource):
    """Reads the YAML file named by ``DETEKTOR_CONFIG``; absent variable means no file."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        raise NotImplementedError  # __call__ below supplies the whole mapping at once

    def __call__(self) -> dict[str, Any]:
        path = os.environ.get(CONFIG_ENV)
        if not path:
            return {}
        return read_yaml_config(Path(path))


def read_yaml_config(path: Path) -> dict[str, Any]:
    """The mapping in a YAML config file, or a ConfigError saying what is wrong with it."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{CONFIG_ENV}={path}: cannot read the file ({exc.strerror})") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        raise ConfigError(f"{CONFIG_ENV}={path}: not valid YAML{at}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{CONFIG_ENV}={path}: the top level must be a mapping of settings")
    return data


def load_settings(**overrides: Any) -> Settings:
    """Build and validate the settings once; a ConfigError lists every bad field."""
    unknown = unknown_env_settings(os.environ)
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        message = describe_validation_error(exc)
        if unknown:
            message += "; " + _describe_unknown(unknown)
        raise ConfigError(message) from None
    if unknown:
        raise ConfigError("invalid configuration: " + _describe_unknown(unknown))
    return settings


def unknown_env_settings(environ: Mapping[str, str]) -> list[str]:
    """``DETEKTOR_*`` variables that name no setting: pydantic-settings ignores them, but a
    typo like DETEKTOR_HTTP_PROT must not silently leave the default in place."""
    known = {CONFIG_ENV, *_env_names(Settings, "DETEKTOR_")}
    # Keys inside a known section reach pydantic, whose extra="forbid" reports them itself.
    sections = tuple(k + "__" for k in known)
    return sorted(
        k
        for k in environ
        if k.startswith("DETEKTOR_") and k not in known and not k.startswith(sections)
    )


def _env_names(model: type[BaseModel], prefix: str) -> Iterator[str]:
    for name, info in model.model_fields.items():
        env = f"{prefix}{name.upper()}"
        yield env
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from _env_names(annotation, env + "__")


def _describe_unknown(names: list[str]) -> str:
    return "; ".join(f"{n}: unknown setting (check the spelling)" for n in names)


def describe_validation_error(exc: ValidationError) -> str:
    """One line naming each bad field, its environment variable, the problem and the input."""
    problems = []
    for err in exc.errors(include_url=False):
        loc = [str(part) for part in err["loc"]]
        dotted = ".".join(loc) or "(root)"
        env = "DETEKTOR_" + "__".join(loc).upper()
        given = err.get("input")
        if isinstance(given, str) and ("://" in given or _SECRET_NAME.search(dotted)):
            given = mask_secret(given)  # an error message must not leak what config show hides
        shown = "" if isinstance(given, dict) or err["type"] == "missing" else f" (got {given!r})"
        if err["type"] == "extra_forbidden":
            problems.append(f"{dotted}: unknown setting (check the spelling; {env})")
        else:
            problems.append(f"{dotted} ({env}): {err['msg']}{shown}")
    return "invalid configuration: " + "; ".join(problems)
