"""The pollers' YAML config: which feeds and JSON APIs to poll, how often, and how to read them.

Validated up front with pydantic so a typo fails at start-up with the field's name, not hours
later at the first poll. ``${VAR}`` in any string is replaced by the environment variable, so API
tokens stay out of the file. See infra/pollers.example.yaml for a commented example.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from trustscope.pollers.mapping import REQUIRED_TARGETS, TARGETS
from trustscope.schemas import Kind

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
NAME_PATTERN = r"^[A-Za-z0-9_.:\-]+$"


class ConfigError(ValueError):
    """The config file is missing, not YAML, or does not describe valid sources."""


class RetryConfig(BaseModel):
    """Retries of transient HTTP failures (connection errors, timeouts, 429, 5xx)."""

    model_config = ConfigDict(extra="forbid")

    attempts: int = Field(4, ge=1, le=10, description="tries in all, the first one included")
    backoff_s: float = Field(1.0, gt=0, description="first wait; doubles each retry, with jitter")
    max_backoff_s: float = Field(60.0, gt=0)


class _SourceBase(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(..., pattern=NAME_PATTERN, max_length=100,
                      description="unique; names the source's state in Redis")
    url: AnyHttpUrl
    enabled: bool = True
    kind: Kind = Kind.news
    source: str | None = Field(None, pattern=NAME_PATTERN, max_length=100,
                               description="DocumentIn.source; defaults to name")
    platforms: list[str] = Field(default_factory=list, description="platform ids every item concerns")
    interval_s: float = Field(300.0, ge=1.0, description="seconds between polls")
    timeout_s: float = Field(15.0, gt=0, description="HTTP timeout per request")
    max_bytes: int = Field(10 * 1024 * 1024, gt=0, description="larger responses are refused")
    lookback_s: float = Field(2 * 24 * 3600.0, ge=0,
                              description="items older than the newest seen minus this are not re-sent")
    headers: dict[str, str] = Field(default_factory=dict)
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)
    retry: RetryConfig = Field(default_factory=RetryConfig)

    @property
    def source_name(self) -> str:
        return self.source or self.name


class FeedSource(_SourceBase):
    """An RSS or Atom feed (anything feedparser reads)."""

    type: Literal["feed"]

    @model_validator(mode="after")
    def _no_reviews(self) -> FeedSource:
        if self.kind is Kind.review:
            raise ValueError("feeds carry no ratings, so kind 'review' is not possible; use news or social")
        return self


class JsonSource(_SourceBase):
    """A JSON API whose response holds a list of items, read through a field mapping."""

    type: Literal["json"]
    items_path: str = Field("", description="dotted path to the list of items; empty = the body itself")
    fields: dict[str, list[str]] = Field(..., description="target field -> dotted path(s) in an item")
    html: bool = Field(False, description="strip HTML from text and title")
    cursor_param: str | None = Field(None, description="query parameter sent with the newest time seen")
    cursor_format: Literal["iso", "epoch", "epoch_ms"] = "iso"

    @field_validator("fields", mode="before")
    @classmethod
    def _paths_as_lists(cls, v: Any) -> Any:
        if isinstance(v, dict):
            return {k: [p] if isinstance(p, str) else p for k, p in v.items()}
        return v

    @field_validator("fields")
    @classmethod
    def _known_targets(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        unknown = sorted(set(v) - TARGETS)
        if unknown:
            raise ValueError(f"unknown target(s) {unknown}; allowed: {sorted(TARGETS)}")
        missing = sorted(REQUIRED_TARGETS - set(v))
        if missing:
            raise ValueError(f"required target(s) not mapped: {missing}")
        empty = sorted(k for k, paths in v.items() if not paths or not all(paths))
        if empty:
            raise ValueError(f"target(s) with an empty path: {empty}")
        return v

    @model_validator(mode="after")
    def _rating_for_reviews(self) -> JsonSource:
        if self.kind is Kind.review and "rating" not in self.fields:
            raise ValueError("kind 'review' needs a 'rating' field mapping")
        if self.kind is not Kind.review and "rating" in self.fields:
            raise ValueError("'rating' can only be mapped for kind 'review'")
        return self


SourceConfig = Annotated[FeedSource | JsonSource, Field(discriminator="type")]


class PollersConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    concurrency: int = Field(4, ge=1, le=64, description="sources polled at the same time")
    sources: list[SourceConfig] = Field(default_factory=list)

    @field_validator("sources")
    @classmethod
    def _unique_names(cls, v: list[FeedSource | JsonSource]) -> list[FeedSource | JsonSource]:
        seen: set[str] = set()
        dupes = sorted({s.name for s in v if s.name in seen or seen.add(s.name)})  # type: ignore[func-returns-value]
        if dupes:
            raise ValueError(f"source names must be unique; repeated: {dupes}")
        return v

    @property
    def enabled_sources(self) -> list[FeedSource | JsonSource]:
        return [s for s in self.sources if s.enabled]


def _expand_env(value: Any, where: str) -> Any:
    if isinstance(value, str):
        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in os.environ:
                raise ConfigError(f"{where}: environment variable {name} is not set")
            return os.environ[name]

        return _ENV_REF.sub(sub, value)
    if isinstance(value, dict):
        return {k: _expand_env(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def parse_config(data: Any, origin: str = "config") -> PollersConfig:
    """Validate an already-loaded YAML document; ``defaults`` are merged under every source."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: the top level must be a mapping with a 'sources' list")
    data = dict(data)
    defaults = data.pop("defaults", None) or {}
    if not isinstance(defaults, dict):
        raise ConfigError(f"{origin}: 'defaults' must be a mapping")
    sources = data.get("sources") or []
    if not isinstance(sources, list):
        raise ConfigError(f"{origin}: 'sources' must be a list")
    merged = []
    for i, src in enumerate(sources):
        if not isinstance(src, dict):
            raise ConfigError(f"{origin}: sources[{i}] must be a mapping")
        merged.append({**defaults, **src})
    data["sources"] = _expand_env(merged, "sources")
    try:
        return PollersConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = list(err["loc"])
            if len(loc) >= 2 and loc[0] == "sources" and isinstance(loc[1], int):
                name = merged[loc[1]].get("name", f"#{loc[1]}")
                rest = loc[3:] if len(loc) >= 3 and loc[2] in ("feed", "json") else loc[2:]  # union tag
                loc = [f"sources[{name}]", *rest]
            problems.append(f"{'.'.join(str(p) for p in loc) or '(top)'}: {err['msg']}")
        raise ConfigError(f"{origin}: invalid pollers config:\n  " + "\n  ".join(problems)) from exc


def load_config(path: str | Path) -> PollersConfig:
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read pollers config {path}: {exc.strerror or exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    return parse_config(data, str(path))
