"""Rumour alerts for risk teams (moved as-is from app.py; the rumour work replaces it)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from services.gateway import queries
from services.gateway.deps import ES, Indices, require_role
from trustscope.auth import RISK_TEAM

router = APIRouter(tags=["alerts"])


@router.get("/v1/alerts", dependencies=[Depends(require_role(RISK_TEAM))])
def rumour_alerts(
    es: ES, indices: Indices, hours: Annotated[int, Query(ge=1, le=24 * 30)] = 24,
    min_score: Annotated[float, Query(ge=0, le=1)] = 0.5, platform: str | None = None,
) -> dict[str, Any]:
    """Platforms with rumour-like texts in the last ``hours`` (placeholder lexicon score)."""
    flt = queries.filters(platform=platform)
    flt.append({"range": {"created_at": {"gte": f"now-{hours}h"}}})
    flt.append({"range": {"rumour.score": {"gte": min_score}}})
    body = {"size": 0, "query": {"bool": {"filter": flt}}, "aggs": {"platforms": {
        "terms": {"field": "platforms", "size": 50},
        "aggs": {"terms": {"terms": {"field": "rumour.terms", "size": 10}},
                 "authors": {"cardinality": {"field": "author_id"}},
                 "first": {"min": {"field": "created_at"}}, "last": {"max": {"field": "created_at"}},
                 "top": {"top_hits": {"size": 3, "sort": [{"rumour.score": "desc"}],
                                      "_source": ["id", "text", "url", "created_at", "rumour"]}}}}}}
    result = es.search(index=indices.read_alias, **body).body
    alerts = []
    for b in result["aggregations"]["platforms"]["buckets"]:
        alerts.append({
            "platform": b["key"], "mentions": b["doc_count"], "authors": b["authors"]["value"],
            "terms": {t["key"]: t["doc_count"] for t in b["terms"]["buckets"]},
            "first_seen": b["first"].get("value_as_string"), "last_seen": b["last"].get("value_as_string"),
            "examples": [h["_source"] for h in b["top"]["hits"]["hits"]],
        })
    return {"hours": hours, "min_score": min_score, "engine": "rumour-lexicon-placeholder-v1",
            "alerts": alerts}
