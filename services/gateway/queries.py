"""Elasticsearch queries behind the gateway's read endpoints, kept apart from HTTP concerns."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

import orjson

from trustscope.text import normalize_text, to_simplified

SORT = [{"created_at": "desc"}, {"id": "asc"}]


def encode_cursor(sort_values: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(sort_values)).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    padded = cursor + "=" * (-len(cursor) % 4)
    values = orjson.loads(base64.urlsafe_b64decode(padded))
    if not isinstance(values, list) or len(values) != 2:
        raise ValueError("malformed cursor")
    return values


def filters(platform: str | None = None, kind: str | None = None, verdict: str | None = None,
            since: datetime | None = None, until: datetime | None = None,
            sentiment: str | None = None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if platform:
        out.append({"term": {"platforms": platform}})
    if kind:
        out.append({"term": {"kind": kind}})
    if verdict:
        out.append({"term": {"integrity.verdict": verdict}})
    if sentiment:
        out.append({"term": {"sentiment.label": sentiment}})
    if since or until:
        rng: dict[str, str] = {}
        if since:
            rng["gte"] = since.isoformat()
        if until:
            rng["lt"] = until.isoformat()
        out.append({"range": {"created_at": rng}})
    return out


def text_query(q: str) -> dict[str, Any]:
    """Chinese phrase search over the simplified copy (finds traditional-script posts too); several
    space-separated phrases must all match."""
    phrases = [p for p in to_simplified(normalize_text(q)).split(" ") if p]
    return {"bool": {"must": [
        {"multi_match": {"query": p, "type": "phrase", "fields": ["text_simplified", "title"]}}
        for p in phrases
    ]}}


def search_body(q: str | None, flt: list[dict[str, Any]], size: int, cursor: str | None) -> dict[str, Any]:
    query: dict[str, Any] = {"bool": {"filter": flt}}
    if q:
        query["bool"]["must"] = [text_query(q)]
    body: dict[str, Any] = {"query": query, "size": size, "sort": SORT, "track_total_hits": True}
    if cursor:
        body["search_after"] = decode_cursor(cursor)
    return body


def page(result: dict[str, Any], size: int) -> dict[str, Any]:
    hits = result["hits"]["hits"]
    out: dict[str, Any] = {"total": result["hits"]["total"]["value"],
                           "documents": [h["_source"] for h in hits]}
    if len(hits) == size and hits:
        out["next_cursor"] = encode_cursor(hits[-1]["sort"])
    return out


def sentiment_over_time(flt: list[dict[str, Any]], interval: str, tz: str) -> dict[str, Any]:
    return {
        "size": 0,
        "query": {"bool": {"filter": flt}},
        "aggs": {"over_time": {
            "date_histogram": {"field": "created_at", "calendar_interval": interval, "time_zone": tz,
                               "min_doc_count": 0},
            "aggs": {
                "labels": {"terms": {"field": "sentiment.label", "size": 5}},
                "avg_score": {"avg": {"field": "sentiment.score"}},
                "verdicts": {"terms": {"field": "integrity.verdict", "size": 5}},
                "rumour": {"filter": {"range": {"rumour.score": {"gte": 0.5}}}},
            },
        }},
    }


def shape_over_time(result: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for b in result["aggregations"]["over_time"]["buckets"]:
        labels = {x["key"]: x["doc_count"] for x in b["labels"]["buckets"]}
        out.append({
            "start": b["key_as_string"], "documents": b["doc_count"],
            "positive": labels.get("positive", 0), "negative": labels.get("negative", 0),
            "neutral": labels.get("neutral", 0),
            "avg_score": None if b["avg_score"]["value"] is None else round(b["avg_score"]["value"], 4),
            "verdicts": {x["key"]: x["doc_count"] for x in b["verdicts"]["buckets"]},
            "rumour_mentions": b["rumour"]["doc_count"],
        })
    return out
