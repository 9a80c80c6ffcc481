"""Admin: the platform registry, the dead-letter stream and the pipeline's repair tools
(``trustscope.pipeline_admin``, shared with the ``trustscope pipeline`` CLI)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime, timezone
from typing import Annotated, Any, Literal

import redis
from fastapi import APIRouter, Body, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from services.gateway.deps import Bus, Registry, require_role
from trustscope import pipeline_admin
from trustscope.auth import ADMIN
from trustscope.bus import DEAD_LETTER
from trustscope.platforms import Platform, PlatformPatch
from trustscope.web import ApiError

router = APIRouter(tags=["admin"], dependencies=[Depends(require_role(ADMIN))])
STREAM_ID = re.compile(r"^(-|\d{1,20}(-\d{1,20})?)$")
DEAD_ID = re.compile(r"^(\d{1,20})-(\d{1,20})$")
_U64 = 2**64
STAGE_NAMES = tuple(group for _stream, group, _dest in pipeline_admin.STAGES)
Stage = Literal["sentiment", "integrity", "indexer"]
assert set(STAGE_NAMES) == set(Stage.__args__)  # type: ignore[attr-defined]
_NOT_FOUND = {404: {"description": "no dead letter with this id"}}


class ReplayRequest(BaseModel):
    """Which dead letters to put back on their streams (every given criterion must hold)."""

    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(None, min_length=1, max_length=100, description="exact reason code")
    stage: Stage | None = Field(None, description="the stage that gave up")
    since: datetime | None = Field(None, description="failed at or after (ISO-8601, naive = UTC, or unix s)")
    until: datetime | None = Field(None, description="failed before")
    error_contains: str | None = Field(None, min_length=1, max_length=500)
    dry_run: bool = Field(True, description="true (default): report what would be replayed, change nothing")
    limit: int | None = Field(None, ge=1, le=100_000, description="replay at most this many (oldest first)")


class PruneRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    idle_ms: int = Field(3_600_000, ge=1_000, le=365 * 86_400_000,
                         description="remove consumers idle this long that hold no pending message")
    dry_run: bool = Field(True, description="true (default): list them, remove nothing")


def _unix(value: datetime | None) -> float | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()


def dead_letter_id(dead_id: str) -> str:
    """A concrete stream id (``1700000000000-0``, each part < 2^64), else 400: Redis would refuse
    anything else with an error that is the caller's, not ours."""
    m = DEAD_ID.match(dead_id)
    if m is None or int(m.group(1)) >= _U64 or int(m.group(2)) >= _U64:
        raise ApiError(400, "bad_parameter", "dead_id: a stream id like 1700000000000-0", field="dead_id")
    return dead_id


@contextmanager
def stream_id_errors(field: str) -> Iterator[None]:
    """bus.py (ValueError) or Redis ("Invalid stream ID") refusing an id: the caller's error, a 400
    naming ``field``; any other Redis error propagates (an outage is a 503)."""
    try:
        yield
    except (ValueError, redis.ResponseError) as exc:
        if isinstance(exc, redis.ResponseError) and "stream id" not in str(exc).lower():
            raise
        raise ApiError(400, "bad_parameter", f"{field}: not a valid stream id", field=field) from exc


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
    if not STREAM_ID.match(after) or any(int(p) >= _U64 for p in after.split("-") if p):
        raise ApiError(400, "bad_parameter", "after: a stream id like 1700000000000-0, or '-'", field="after")
    with stream_id_errors("after"):
        items = bus.dead_letters(count, after)
    return {"total": bus.backlog(DEAD_LETTER), "dead_letters": [asdict(d) for d in items]}


@router.post("/v1/admin/dead-letters/replay")
def replay_matching(bus: Bus, body: Annotated[ReplayRequest | None, Body()] = None) -> dict[str, Any]:
    """Bulk replay by filter; a dry run (the default) says what would go back, by reason and stage."""
    req = body or ReplayRequest()
    since, until = _unix(req.since), _unix(req.until)
    if since is not None and until is not None and since >= until:
        raise ApiError(400, "bad_parameter", "since: must be before until", field="since")
    flt = pipeline_admin.DeadLetterFilter(req.reason, req.stage, since, until, req.error_contains)
    return asdict(pipeline_admin.replay_dead_letters(bus, flt, dry_run=req.dry_run, limit=req.limit))


@router.post("/v1/admin/consumers/prune")
def prune_consumers(bus: Bus, body: Annotated[PruneRequest | None, Body()] = None) -> dict[str, Any]:
    """Remove (or, by default, list) consumers idle for ``idle_ms`` with nothing pending."""
    req = body or PruneRequest()
    removed = pipeline_admin.remove_dead_consumers(bus, idle_ms=req.idle_ms, dry_run=req.dry_run)
    return {"dry_run": req.dry_run, "consumers": [asdict(c) for c in removed]}


@router.post("/v1/admin/dead-letters/{dead_id}/replay", responses=_NOT_FOUND)
def replay(bus: Bus, dead_id: str) -> dict[str, Any]:
    with stream_id_errors("dead_id"):
        new_id = bus.replay_dead_letter(dead_letter_id(dead_id))
    if new_id is None:
        raise ApiError(404, "not_found", f"no dead letter with id '{dead_id}'")
    return {"replayed": dead_id, "message_id": new_id}


@router.delete("/v1/admin/dead-letters/{dead_id}", status_code=204, responses=_NOT_FOUND)
def drop_dead_letter(bus: Bus, dead_id: str) -> None:
    with stream_id_errors("dead_id"):
        deleted = bus.delete_dead_letter(dead_letter_id(dead_id))
    if not deleted:
        raise ApiError(404, "not_found", f"no dead letter with id '{dead_id}'")


@router.get("/v1/admin/pipeline")
def pipeline(bus: Bus) -> dict[str, Any]:
    """Per stage: length, lag, pending, oldest pending idle time and consumers; dead letters by
    reason and stage; the largest backlog (what ingest's back-pressure compares)."""
    return pipeline_admin.pipeline_status(bus).to_dict()
