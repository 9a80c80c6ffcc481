"""Regulator analytics: sentiment over time (per platform), platforms ranked by negative share,
significant terms for a platform or a query. Each call is audited like a search."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from services.gateway import queries, sentiment_view
from services.gateway.deps import ES, Audit, Filters, Indices, KnownPlatform, require_role, time_param
from services.gateway.queries import SearchFilters
from services.gateway.routers.search import KINDS, record
from services.gateway.sentiment_view import SentimentQuery
from trustscope.auth import REGULATOR, Principal
from trustscope.es.rollup import SentimentRollups
from trustscope.settings import get_settings
from trustscope.web import ApiError

router = APIRouter(tags=["analytics"])
Regulator = Annotated[Principal, Depends(require_role(REGULATOR))]
Interval = Literal["hour", "day", "week", "month"]


def _zone(tz: str | None, rollups: SentimentRollups | None) -> str:
    """An IANA time zone name (by default the rollup time zone, ``TS_ROLLUP_TZ``), or 400 naming ``tz``."""
    if not tz:
        return rollups.tz if rollups is not None else get_settings().rollup_tz
    try:
        ZoneInfo(tz)
    except (ValueError, ZoneInfoNotFoundError, OSError) as exc:
        raise ApiError(400, "bad_parameter", f"tz: unknown time zone '{tz}' (use an IANA name such as "
                       "Asia/Shanghai or UTC)", field="tz") from exc
    return tz


MAX_HOUR_SPAN = timedelta(days=31)


def _json(body: dict[str, Any]) -> Response:
    """Thousands of buckets: serialised once by orjson, not walked by FastAPI's generic encoder."""
    return Response(orjson.dumps(body), media_type="application/json")


def _span_ok(interval: str, since: datetime | None, until: datetime | None) -> None:
    """Hour buckets over an unbounded or long range would exceed the backend's bucket limit (and say
    little): 400 naming ``interval`` rather than a failed search."""
    if interval == "hour" and (since is None or (until or datetime.now(timezone.utc)) - since > MAX_HOUR_SPAN):
        raise ApiError(400, "bad_parameter", "interval=hour needs since, at most 31 days before until (or now)",
                       field="interval")


def get_rollups(request: Request) -> SentimentRollups | None:
    return getattr(request.app.state, "rollups", None)


Rollups = Annotated[SentimentRollups | None, Depends(get_rollups)]
Tz = Annotated[str | None, Query(description="IANA time zone of the buckets; default: the rollup time zone "
                                             "(TS_ROLLUP_TZ, Asia/Shanghai unless configured)")]
Exact = Annotated[bool, Query(description="aggregate every matching document even when a text query or "
                                         "filter the rollups cannot answer matches very many (slower)")]


@router.get("/v1/platforms/{platform_id}/sentiment")
def sentiment_trend(
    request: Request, es: ES, indices: Indices, audit: Audit, principal: Regulator, platform: KnownPlatform,
    rollups: Rollups, interval: Interval = "day", since: str | None = None, until: str | None = None,
    kind: KINDS | None = None, tz: Tz = None, exact: Exact = False,
) -> Response:
    """Sentiment about one platform over time: per bucket the documents, their labels, mean score,
    integrity verdicts and rumour mentions (rumour score >= 0.5). Exact; ``basis`` says whether the
    daily rollups answered (see /v1/analytics/sentiment)."""
    started = time.perf_counter()
    f = SearchFilters(platforms=[platform.id], kind=kind, since=time_param(since, "since"),
                      until=time_param(until, "until"))
    _span_ok(interval, f.since, f.until)
    tz = _zone(tz, rollups)
    q = SentimentQuery(f, interval, tz, detail=True, only_platforms=[platform.id], exact=exact)
    ans = sentiment_view.answer(es, indices.read_alias, rollups, q)
    buckets = sentiment_view.timeline(ans.series.get(platform.id, {}), interval, tz, detail=True)
    record(audit, request, principal, "analytics", f, sum(b["documents"] for b in buckets), started)
    return _json({"platform": platform.id, "interval": interval, "tz": tz, "buckets": buckets,
                           "basis": ans.basis})


@router.get("/v1/analytics/sentiment")
def sentiment_by_platform(
    request: Request, es: ES, indices: Indices, audit: Audit, principal: Regulator, f: Filters, rollups: Rollups,
    interval: Interval = "day", tz: Tz = None, top: Annotated[int, Query(ge=1, le=50)] = 10,
    exact: Exact = False,
) -> Response:
    """Sentiment per platform over time, for the ``top`` platforms with most matching documents
    (with a platform filter, only those platforms).

    Exact, and fast at any size: without a text query or rumour range, in the rollup time zone
    (``TS_ROLLUP_TZ``, Asia/Shanghai by default) and with day/week/month buckets, whole days come
    from daily rollups maintained as documents are indexed, and only partial days at the range's
    edges and platform-days indexed since their rollup was last recomputed (seconds) are counted
    from the documents. Otherwise the
    documents are aggregated directly. ``basis.method`` is ``rollups`` or ``documents``."""
    started = time.perf_counter()
    _span_ok(interval, f.since, f.until)
    tz = _zone(tz, rollups)
    q = SentimentQuery(f, interval, tz, only_platforms=f.platforms or None, exact=exact)
    ans = sentiment_view.answer(es, indices.read_alias, rollups, q)
    totals = sentiment_view.totals(ans.series)
    ranked = sorted(totals, key=lambda p: (-totals[p].documents, p))[:top]
    record(audit, request, principal, "analytics", f, sum(c.documents for c in totals.values()), started)
    return _json({"interval": interval, "tz": tz, "basis": ans.basis, "platforms": [
        {"platform": p, "documents": totals[p].documents,
         "buckets": sentiment_view.timeline(ans.series[p], interval, tz, detail=False)} for p in ranked]})


@router.get("/v1/analytics/negative-share")
def negative_share(
    request: Request, es: ES, indices: Indices, audit: Audit, principal: Regulator, f: Filters, rollups: Rollups,
    min_documents: Annotated[int, Query(ge=1, le=1_000_000)] = 20, top: Annotated[int, Query(ge=1, le=200)] = 20,
    exact: Exact = False,
) -> Response:
    """Platforms ranked by the share of negative documents among those with a sentiment label; a
    platform needs ``min_documents`` matching documents to be ranked (small counts rank noisily).
    Exact; answered from the daily rollups like /v1/analytics/sentiment (``basis``)."""
    started = time.perf_counter()
    ans = sentiment_view.answer(es, indices.read_alias, rollups,
                                SentimentQuery(f, None, only_platforms=f.platforms or None, exact=exact))
    rows = []
    for platform, c in sentiment_view.totals(ans.series).items():
        if c.documents < min_documents:
            continue
        scored = sum(c.labels.get(x, 0) for x in sentiment_view.SHOWN_LABELS)
        negative = c.labels.get("negative", 0)
        rows.append({"platform": platform, "documents": c.documents, "scored": scored, "negative": negative,
                     "negative_share": round(negative / scored, 4) if scored else 0.0})
    rows.sort(key=lambda r: (-r["negative_share"], -r["documents"], r["platform"]))
    record(audit, request, principal, "analytics", f, sum(r["documents"] for r in rows), started)
    return _json({"min_documents": min_documents, "basis": ans.basis, "platforms": rows[:top]})


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
