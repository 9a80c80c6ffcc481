"""The platform registry in Redis, seeded from the YAML defaults shipped with the package.

Redis is the source of truth so that every replica of every service sees admin edits. A version
counter lets services cache a ``PlatformLinker`` and rebuild it only when something changed.
"""

from __future__ import annotations

import time
from importlib import resources
from typing import Any

import orjson
import redis
import yaml

from trustscope.platforms.linker import PlatformLinker
from trustscope.platforms.models import Platform, PlatformPatch


def default_platforms() -> list[Platform]:
    """The platforms in ``platforms.yaml``."""
    text = resources.files("trustscope.platforms").joinpath("platforms.yaml").read_text("utf-8")
    return [Platform.model_validate(item) for item in yaml.safe_load(text)]


class PlatformRegistry:
    """CRUD over the Redis hash ``{prefix}:platforms`` plus a cached linker."""

    def __init__(self, client: redis.Redis, prefix: str = "ts", refresh_s: float = 5.0) -> None:
        self.client = client
        self.key = f"{prefix}:platforms"
        self.version_key = f"{prefix}:platforms:version"
        self.refresh_s = refresh_s
        self._linker: PlatformLinker | None = None
        self._linker_version: int | None = None
        self._checked_at = 0.0

    def seed_defaults(self) -> int:
        """Add default platforms whose ids are not present yet; returns how many were added."""
        added = 0
        for p in default_platforms():
            added += int(self.client.hsetnx(self.key, p.id, p.model_dump_json()))
        if added:
            self.client.incr(self.version_key)
        return added

    def all(self) -> list[Platform]:
        raw: dict[Any, Any] = self.client.hgetall(self.key)  # type: ignore[assignment]
        return sorted((Platform.model_validate_json(v) for v in raw.values()), key=lambda p: p.id)

    def get(self, platform_id: str) -> Platform | None:
        raw = self.client.hget(self.key, platform_id)
        return Platform.model_validate_json(raw) if raw else None  # type: ignore[arg-type]

    def create(self, platform: Platform) -> bool:
        """False when the id is taken."""
        created = bool(self.client.hsetnx(self.key, platform.id, platform.model_dump_json()))
        if created:
            self.client.incr(self.version_key)
        return created

    def update(self, platform_id: str, patch: PlatformPatch) -> Platform | None:
        current = self.get(platform_id)
        if current is None:
            return None
        merged = current.model_copy(update=patch.model_dump(exclude_none=True))
        merged = Platform.model_validate(merged.model_dump())  # re-run validators on the merge
        self.client.hset(self.key, platform_id, merged.model_dump_json())
        self.client.incr(self.version_key)
        return merged

    def delete(self, platform_id: str) -> bool:
        removed = bool(self.client.hdel(self.key, platform_id))
        if removed:
            self.client.incr(self.version_key)
        return removed

    def linker(self) -> PlatformLinker:
        """A linker over the current registry, rebuilt at most every ``refresh_s`` when it changed."""
        now = time.monotonic()
        if self._linker is None or now - self._checked_at >= self.refresh_s:
            self._checked_at = now
            version = int(self.client.get(self.version_key) or 0)
            if self._linker is None or version != self._linker_version:
                self._linker = PlatformLinker(self.all())
                self._linker_version = version
        return self._linker


def platform_json(p: Platform) -> dict[str, Any]:
    return orjson.loads(p.model_dump_json())
