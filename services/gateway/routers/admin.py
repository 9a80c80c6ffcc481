"""Admin: the platform registry, the dead-letter stream and pipeline state."""

from __future__ import annotations

import re
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from services.gateway.deps import Bus, Registry, require_role
from trustscope.auth import ADMIN
from trustscope.bus import DEAD_LETTER
from trustscope.platforms import Platform, PlatformPatch
from trustscope.web import ApiError

router = APIRouter(tags=["admin"], dependencies=[Depends(require_role(ADMIN))])
PIPELINE_STREAMS = ["ingest", "scored", "verified", DEAD_LETTER]
STREAM_ID = re.compile(r"^(-|\d{1,20}(-\d{1,20})?)$")


@router.post("/v1/admin/platforms", status_code=201)
def create_platform(registry: Registry, platform: Platform) -> dict[str, Any]:
    if not registry.create(platform):
        raise ApiError(409, "conflict", f"platform '{platform.id}' exists; use PATCH to edit it")
    return platform.model_dump()


@router.patch("/v1/admin/platforms/{platform_id}")
def edit_platform(registry: Registry, platform_id: str, patch: PlatformPatch) -> dict[str, Any]:
    updated = registry.update(platform_id, patch)
    if updated is None:
        raise ApiError(404, "unknown_platform", f"no platform with id '{platform_id}'")
    return updated.model_dump()


@router.delete("/v1/admin/platforms/{platform_id}", status_code=204)
def delete_platform(registry: Registry, platform_id: str) -> None:
    if not registry.delete(platform_id):
        raise ApiError(404, "unknown_platform", f"no platform with id '{platform_id}'")


@router.get("/v1/admin/dead-letters")
def dead_letters(bus: Bus, count: Annotated[int, Query(ge=1, le=1000)] = 100,
                 after: Annotated[str, Query(description="stream id to start after; '-' = from the start")] = "-",
                 ) -> dict[str, Any]:
    if not STREAM_ID.match(after):
        raise ApiError(400, "bad_parameter", "after: a stream id like 1700000000000-0, or '-'", field="after")
    items = bus.dead_letters(count, after)
    return {"total": bus.backlog(DEAD_LETTER), "dead_letters": [asdict(d) for d in items]}


@router.post("/v1/admin/dead-letters/{dead_id}/replay")
def replay(bus: Bus, dead_id: str) -> dict[str, Any]:
    new_id = bus.replay_dead_letter(dead_id)
    if new_id is None:
        raise ApiError(404, "not_found", f"no dead letter with id '{dead_id}'")
    return {"replayed": dead_id, "message_id": new_id}


@router.delete("/v1/admin/dead-letters/{dead_id}", status_code=204)
def drop_dead_letter(bus: Bus, dead_id: str) -> None:
    if not bus.delete_dead_letter(dead_id):
        raise ApiError(404, "not_found", f"no dead letter with id '{dead_id}'")


@router.get("/v1/admin/pipeline")
def pipeline(bus: Bus) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for stream in PIPELINE_STREAMS:
        info: dict[str, Any] = {"backlog": bus.backlog(stream)}
        try:
            groups = bus.client.xinfo_groups(bus.key(stream))
            info["groups"] = [{"name": g["name"].decode() if isinstance(g["name"], bytes) else g["name"],
                               "consumers": g["consumers"], "pending": g["pending"]} for g in groups]
        except Exception:  # noqa: BLE001 - a stream not created yet
            info["groups"] = []
        out[stream] = info
    return {"streams": out}
