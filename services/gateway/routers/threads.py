"""A post's whole thread (its root, reposts and comments at any depth) for regulators and risk teams."""

from __future__ import annotations

from typing import Annotated, Any

from elasticsearch import NotFoundError
from fastapi import APIRouter, Depends, Query

from services.gateway.deps import ES, Indices, require_any
from trustscope.auth import REGULATOR, RISK_TEAM
from trustscope.web import ApiError

router = APIRouter(tags=["documents"])
THREAD_FIELDS = ["id", "source", "source_id", "kind", "platforms", "author_id", "author_name", "title", "text",
                 "url", "created_at", "parent_id", "root_id", "depth", "sentiment", "rumour", "integrity"]


@router.get("/v1/documents/{doc_id}/thread", dependencies=[Depends(require_any(REGULATOR, RISK_TEAM))])
def get_thread(es: ES, indices: Indices, doc_id: str,
               size: Annotated[int, Query(ge=1, le=1000)] = 200) -> dict[str, Any]:
    """The thread containing ``doc_id``: its root first, then replies by depth and time. Each post
    names its ``parent_id``, so a client can draw the tree."""
    try:
        doc = es.get(index=indices.read_alias, id=doc_id, source_includes=["id", "root_id"])["_source"]
    except NotFoundError as exc:
        raise ApiError(404, "not_found", f"no document with id '{doc_id}'") from exc
    root = doc.get("root_id") or doc["id"]
    result = es.search(index=indices.read_alias, size=size, track_total_hits=True, _source=THREAD_FIELDS,
                       query={"bool": {"should": [{"term": {"id": root}}, {"term": {"root_id": root}}],
                                       "minimum_should_match": 1}},
                       sort=[{"depth": {"order": "asc", "missing": "_first"}}, {"created_at": "asc"}, {"id": "asc"}])
    posts = [h["_source"] for h in result["hits"]["hits"]]
    return {"document": doc_id, "root_id": root, "root_indexed": any(p["id"] == root for p in posts),
            "total": result["hits"]["total"]["value"], "posts": posts,
            "truncated": result["hits"]["total"]["value"] > len(posts)}
