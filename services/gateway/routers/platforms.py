"""Public platform registry reads. (Scores, widgets and platform pages have their own routers.)"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from services.gateway.deps import KnownPlatform, Registry

router = APIRouter(tags=["platforms"])


@router.get("/v1/platforms")
def list_platforms(registry: Registry) -> dict[str, Any]:
    return {"platforms": [p.model_dump() for p in registry.all()]}


@router.get("/v1/platforms/{platform_id}")
def get_platform(platform: KnownPlatform) -> dict[str, Any]:
    return platform.model_dump()
