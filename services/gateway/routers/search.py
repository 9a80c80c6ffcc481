"""Regulator search over every platform's documents."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from elasticsearch import Elasticsearch
from fastapi import APIRouter, Depends, Query

from services.gateway import queries
from services.gateway.deps import ES, Indices, require_role, time_param
from trustscope.auth import REGULATOR, Principal
from trustscope.es import DocIndices
from trustscope.web import ApiError

router = APIRouter(tags=["search"])
KINDS = Literal["review", "news", "social"]
VERDICTS = Literal["verified", "suspicious", "fake"]


def run_search(es: Elasticsearch, indices: DocIndices, q: str | None, platform: str | None,
               kind: str | None, verdict: str | None, since: str | None, until: str | None,
               sentiment: str | None, size: int, cursor: str | None) -> dict[str, Any]:
    flt = queries.filters(platform, kind, verdict, time_param(since, "since"), time_param(until, "until"),
                          sentiment)
    try:
        body = queries.search_body(q, flt, size, cursor)
    except (ValueError, TypeError) as exc:
        raise ApiError(400, "bad_parameter", f"cursor: {exc}") from exc
    result = es.search(index=indices.read_alias, **body)
    return queries.page(result.body, size)


@router.get("/v1/search")
def search(
    es: ES, indices: Indices, _p: Annotated[Principal, Depends(require_role(REGULATOR))],
    q: Annotated[str | None, Query(max_length=200, description="phrases, space separated")] = None,
    platform: str | None = None, kind: KINDS | None = None, verdict: VERDICTS | None = None,
    sentiment: Literal["positive", "negative", "neutral"] | None = None,
    since: str | None = None, until: str | None = None,
    size: Annotated[int, Query(ge=1, le=500)] = 50, cursor: str | None = None,
) -> dict[str, Any]:
    return run_search(es, indices, q, platform, kind, verdict, since, until, sentiment, size, cursor)
