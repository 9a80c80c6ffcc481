"""Regulator analytics: sentiment over time (per platform), platforms ranked by negative share,
significant terms for a platform or a query. Each call is audited like a search."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request

from services.gateway import queries
from services.gateway.deps import ES, Audit, Filters, Indices, KnownPlatform, require_role, time_param
from services.gateway.queries import SearchFilters
from services.gateway.routers.search import KINDS, record
from trustscope.auth import REGULATOR, Principal
from trustscope.web import ApiError

router = APIRouter(tags=["analytics"])
Regulator = Annotated[Principal, Depends(require_role(REGULATOR))]
Interval = Literal["hour", "day", "week", "month"]


def _tz_error(exc: Exception, tz: str) -> ApiError | None:
    text = str(exc).lower()
    if "zone" in text or "time_zone" in text:
        return ApiError(400, "bad_parameter", f"tz: unknown time zone '{tz}'", field="tz")
    return None


@router.get("/v1/platforms/{platform_id}/sentiment")
def sentiment_trend(
    request: Request, es: ES, indices: Indices, audit: Audit, principal: Regulator, platform: KnownPlatform,
    interval: Interval = "day", since: str | None = None, until: str | None = None,
    kind: KINDS | None = None, tz: str = "Asia/Shanghai",
) -> dict[str, Any]:
    """Sentiment about one platform over time."""
    started = time.perf_counter()
    f = SearchFilters(platforms=[platform.id], kind=kind, since=time_param(since, "since"),
                      until=time_param(until, "until"))
    try:
        result = es.search(index=indices.read_alias,
                           **queries.sentiment_over_time(queries.filter_clauses(f), interval, tz))
    except Exception as exc:  # noqa: BLE001 - a bad time zone is the caller's error
        if (err := _tz_error(exc, tz)) is not None:
            raise err from exc
        raise
    buckets = queries.shape_over_time(result.body)
    record(audit, request, principal, "analytics", f, result.body["hits"]["total"]["value"], started)
    return {"platform": platform.id, "interval": interval, "tz": tz, "buckets": buckets}


@router.get("/v1/analytics/sentiment")
def sentiment_by_platform(
    request: Request, es: ES, indices: Indices, audit: Audit, principal: Regulator, f: Filters,
    interval: Interval = "day", tz: str = "Asia/Shanghai", top: Annotated[int, Query(ge=1, le=50)] = 10,
) -> dict[str, Any]:
    """Sentiment per platform over time, for the ``top`` platforms with most matching documents."""
    started = time.perf_counter()
    try:
        result = es.search(index=indices.read_alias,
                           **queries.sentiment_by_platform_over_time(f, interval, tz, top)).body
    except Exception as exc:  # noqa: BLE001
        if (err := _tz_error(exc, tz)) is not None:
            raise err from exc
        raise
    record(audit, request, principal, "analytics", f, result["hits"]["total"]["value"], started)
    return {"interval": interval, "tz": tz, "platforms": queries.shape_by_platform(result)}


@router.get("/v1/analytics/negative-share")
def negative_share(
    request: Request, es: ES, indices: Indices, audit: Audit, principal: Regulator, f: Filters,
    min_documents: Annotated[int, Query(ge=1, le=1_000_000)] = 20, top: Annotated[int, Query(ge=1, le=200)] = 20,
) -> dict[str, Any]:
    """Platforms ranked by the share of negative documents among those with a sentiment label; a
    platform needs ``min_documents`` matching documents to be ranked (small counts rank noisily)."""
    started = time.perf_counter()
    result = es.search(index=indices.read_alias, **queries.negative_share(f, min_documents)).body
    record(audit, request, principal, "analytics", f, result["hits"]["total"]["value"], started)
    return {"min_documents": min_documents, "platforms": queries.shape_negative_share(result, top)}


@router.get("/v1/analytics/significant-terms")
def significant_terms(
    request: Request, es: ES, indices: Indices, audit: Audit, principal: Regulator, f: Filters,
    size: Annotated[int, Query(ge=1, le=50)] = 15,
) -> dict[str, Any]:
    """Chinese words (character bigrams/trigrams) unusually frequent in the matching documents
    compared with all documents, scored with JLH (Elasticsearch's ``significant_terms``).

    Give a platform and/or a query. One request: foreground frequencies are counted in a uniform
    random sample of up to 2,000 matching documents (``sampled``; ``exact`` is true when that is
    all of them, and each term's ``documents`` is then its exact count, otherwise its sample count
    scaled to the foreground), background frequencies over every indexed document."""
    if not f.q and not f.platforms:
        raise ApiError(400, "bad_parameter", "give a platform or a query (q) to compare with everything",
                       field="platform")
    started = time.perf_counter()
    result = es.search(index=indices.read_alias, **queries.significant_terms(f, size)).body
    out = queries.shape_significant(result, size)
    record(audit, request, principal, "analytics", f, out["documents"], started)
    return out
