"""Verified scores for the gateway: read a platform's reviews from Elasticsearch and apply the
integrity library's published formula (``trustscope.integrity.score``).

Scores are cached in Redis for ``CACHE_S`` seconds so a widget embedded on a busy page costs one
Elasticsearch scan per minute per platform, not one per page view.
"""

from __future__ import annotations

from typing import Any

import orjson
import redis
from elasticsearch import Elasticsearch, helpers

from trustscope.es import DocIndices
from trustscope.schemas import parse_time

CACHE_S = 60
FIELDS = ["rating", "created_at", "integrity.verdict", "integrity.reason_codes", "integrity.reasons",
          "integrity.fake_prob"]


def platform_reviews(es: Elasticsearch, indices: DocIndices, platform_id: str) -> list[dict[str, Any]]:
    query = {"bool": {"filter": [{"term": {"platforms": platform_id}}, {"term": {"kind": "review"}}]}}
    rows = []
    for hit in helpers.scan(es, index=indices.read_alias, query={"query": query}, _source=FIELDS, size=2000):
        src = hit["_source"]
        integrity = src.get("integrity") or {}
        rows.append({
            "rating": src.get("rating"),
            "created_at": parse_time(src["created_at"]).timestamp() if src.get("created_at") else None,
            "verdict": integrity.get("verdict", "verified"),
            "reasons": integrity.get("reason_codes") or [],
            "fake_prob": integrity.get("fake_prob"),
        })
    return rows


def platform_score(client: redis.Redis, es: Elasticsearch, indices: DocIndices, prefix: str,
                   platform_id: str) -> dict[str, Any]:
    from trustscope.integrity.score import verified_score

    key = f"{prefix}:score-cache:{platform_id}"
    cached = client.get(key)
    if cached:
        return orjson.loads(cached)  # type: ignore[no-any-return]
    score = verified_score(platform_reviews(es, indices, platform_id))
    body = {"platform": platform_id, **score.to_dict()}
    client.set(key, orjson.dumps(body), ex=CACHE_S)
    return body
