"""Single documents and a platform's documents: regulators see all, a platform key its own."""

from __future__ import annotations

import time
from typing import Annotated, Any

from elasticsearch import NotFoundError
from fastapi import APIRouter, Depends, Query, Request

from services.gateway.deps import (
    ES,
    Audit,
    Cursors,
    Indices,
    KnownPlatform,
    RedisDep,
    Registry,
    SettingsDep,
    require_any,
    require_platform_access,
    require_role,
    time_param,
)
from services.gateway.queries import SearchFilters
from services.gateway.routers.search import KINDS, VERDICTS, SortName, paged_search, record
from trustscope.auth import PLATFORM, REGULATOR, Principal
from trustscope.intake import Intake
from trustscope.replies import ReplyIn, ReplyStore
from trustscope.schemas import DocumentIn, Kind
from trustscope.web import ApiError, intake_errors

router = APIRouter(tags=["documents"])
Reader = Annotated[Principal, Depends(require_any(REGULATOR, PLATFORM))]


@router.get("/v1/documents/{doc_id}")
def get_document(es: ES, indices: Indices, principal: Reader, doc_id: str) -> dict[str, Any]:
    try:
        hit = es.get(index=indices.read_alias, id=doc_id)
    except NotFoundError as exc:
        raise ApiError(404, "not_found", f"no document with id '{doc_id}'") from exc
    source: dict[str, Any] = hit["_source"]
    if not principal.all_platforms and not set(source.get("platforms") or []) & principal.platforms:
        # the same answer as a missing document: a platform must not learn what others hold
        raise ApiError(404, "not_found", f"no document with id '{doc_id}'")
    return source


@router.get("/v1/platforms/{platform_id}/documents")
def platform_documents(
    request: Request, es: ES, indices: Indices, codec: Cursors, audit: Audit, principal: Reader,
    platform: KnownPlatform, kind: KINDS | None = None, verdict: VERDICTS | None = None,
    since: str | None = None, until: str | None = None, sort: SortName = "newest",
    size: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=4000)] = None,
) -> dict[str, Any]:
    """A platform's documents: its own key sees them; regulators too (audited)."""
    require_platform_access(principal, platform.id)
    started = time.perf_counter()
    f = SearchFilters(platforms=[platform.id], kind=kind, verdict=verdict, since=time_param(since, "since"),
                      until=time_param(until, "until"))
    page = paged_search(es, indices, codec, f, size, sort, cursor, highlight=False)
    if principal.has(REGULATOR):
        record(audit, request, principal, "search", f, page["total"], started)
    return page


# --- a platform's own voice: submit reviews, reply to reviews --------------------------------
PlatformKey = Annotated[Principal, Depends(require_role(PLATFORM))]


@router.post("/v1/platforms/{platform_id}/reviews", status_code=202)
def submit_review(settings: SettingsDep, client: RedisDep, registry: Registry, principal: PlatformKey,
                  platform: KnownPlatform, item: DocumentIn) -> dict[str, Any]:
    """A review the platform collected itself (e.g. in its app). It goes through the same pipeline
    (sentiment, integrity) as every other review; ``source`` is set to ``platform:<id>`` so anyone
    can tell self-reported reviews apart."""
    require_platform_access(principal, platform.id)
    if item.kind is not Kind.review:
        raise ApiError(400, "bad_parameter", "kind: only reviews can be submitted here", field="kind")
    item = item.model_copy(update={"source": f"platform:{platform.id}", "platforms": [platform.id]})
    intake = Intake(client, settings, registry)
    with intake_errors():
        intake.check_backpressure()
        outcome = intake.submit([item])[0]
    return {"id": outcome.id, "status": outcome.status, "platforms": outcome.platforms}


@router.put("/v1/platforms/{platform_id}/reviews/{doc_id}/reply")
def reply_to_review(es: ES, indices: Indices, client: RedisDep, settings: SettingsDep,
                    principal: PlatformKey, platform: KnownPlatform, doc_id: str, reply: ReplyIn) -> dict[str, Any]:
    """The platform's public reply to a review about it (one per review; a new one replaces it)."""
    require_platform_access(principal, platform.id)
    try:
        source = es.get(index=indices.read_alias, id=doc_id, source_includes=["kind", "platforms"])["_source"]
    except NotFoundError as exc:
        raise ApiError(404, "not_found", f"no document with id '{doc_id}'") from exc
    if source.get("kind") != "review" or platform.id not in (source.get("platforms") or []):
        raise ApiError(404, "not_found", f"no review of '{platform.id}' with id '{doc_id}'")
    saved = ReplyStore(client, settings.stream_prefix).put(platform.id, doc_id, reply, principal.key_id)
    return saved.model_dump(mode="json")


@router.delete("/v1/platforms/{platform_id}/reviews/{doc_id}/reply", status_code=204)
def delete_reply(client: RedisDep, settings: SettingsDep, principal: PlatformKey, platform: KnownPlatform,
                 doc_id: str) -> None:
    require_platform_access(principal, platform.id)
    if not ReplyStore(client, settings.stream_prefix).delete(platform.id, doc_id):
        raise ApiError(404, "not_found", f"no reply to '{doc_id}'")
