"""Single documents and a platform's documents: regulators see all, a platform key its own."""

from __future__ import annotations

from typing import Annotated, Any

from elasticsearch import NotFoundError
from fastapi import APIRouter, Depends, Query

from services.gateway.deps import ES, Indices, KnownPlatform, require_any, require_platform_access
from services.gateway.routers.search import KINDS, VERDICTS, run_search
from trustscope.auth import PLATFORM, REGULATOR, Principal
from trustscope.web import ApiError

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
    es: ES, indices: Indices, principal: Reader, platform: KnownPlatform,
    kind: KINDS | None = None, verdict: VERDICTS | None = None,
    since: str | None = None, until: str | None = None,
    size: Annotated[int, Query(ge=1, le=500)] = 50, cursor: str | None = None,
) -> dict[str, Any]:
    require_platform_access(principal, platform.id)
    return run_search(es, indices, None, platform.id, kind, verdict, since, until, None, size, cursor)
