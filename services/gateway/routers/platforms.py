"""Public platform registry reads, the verified score and the embeddable widget.

The score and widget endpoints are here until the widgets/scores routers take them over."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from services.gateway import scores, widget
from services.gateway.deps import (
    KnownPlatform,
    Registry,
    get_es,
    get_indices,
    get_redis,
    get_registry,
    get_settings_dep,
    known_platform,
)

router = APIRouter(tags=["platforms"])


@router.get("/v1/platforms")
def list_platforms(registry: Registry) -> dict[str, Any]:
    return {"platforms": [p.model_dump() for p in registry.all()]}


@router.get("/v1/platforms/{platform_id}")
def get_platform(platform: KnownPlatform) -> dict[str, Any]:
    return platform.model_dump()


def _score(request: Request, platform_id: str) -> dict[str, Any]:
    return scores.platform_score(get_redis(request), get_es(request), get_indices(request),
                                 get_settings_dep(request).stream_prefix, platform_id)


@router.get("/v1/platforms/{platform_id}/score")
def platform_score(request: Request, platform: KnownPlatform) -> dict[str, Any]:
    """Verified review score: counts only reviews that passed integrity checks, and says how many
    were excluded and why."""
    return _score(request, platform.id)


widget.install(router, lambda request, pid: known_platform(get_registry(request), pid), _score)  # type: ignore[arg-type]
