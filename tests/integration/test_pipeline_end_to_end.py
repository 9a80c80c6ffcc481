"""1,000 reviews through the HTTP API, the three stream stages and Elasticsearch, twice."""

from __future__ import annotations

import httpx
import orjson
import pytest

from services.gateway.app import create_app as create_gateway
from services.ingest.app import create_app as create_ingest
from tests.integration.helpers import ADMIN, INGEST, READER, wait_until
from trustscope.samples import reviews

pytestmark = pytest.mark.integration

N = 1000


def ndjson(items: list[dict]) -> bytes:
    return b"\n".join(orjson.dumps(i) for i in items) + b"\n"


def test_thousand_reviews_reach_elasticsearch_once_with_every_stage(settings, es, rclient, pipeline,
                                                                     live_server):
    items = reviews(N)
    with live_server(create_ingest(settings)) as ingest, live_server(create_gateway(settings)) as gateway, \
            pipeline():
        with httpx.Client(base_url=ingest.url, headers=INGEST, timeout=60) as client:
            first = [client.post("/v1/documents/batch", content=ndjson(items[i:i + 250])).json()
                     for i in range(0, N, 250)]
            assert sum(r["accepted"] for r in first) == N
            assert sum(r["rejected"] for r in first) == 0
            # the same batch again: nothing new
            again = client.post("/v1/documents/batch", content=ndjson(items)).json()
            assert again["duplicates"] == N and again["accepted"] == 0
            # and one by one for a few
            for item in items[:5]:
                r = client.post("/v1/documents", json=item)
                assert r.status_code == 200 and r.json()["status"] == "duplicate"

        alias = f"{settings.es_index_prefix}-docs"

        def all_indexed() -> bool:
            es.indices.refresh(index=alias)
            return es.count(index=alias)["count"] >= N

        wait_until(all_indexed, timeout=300)
        es.indices.refresh(index=alias)
        assert es.count(index=alias)["count"] == N
        distinct = es.search(index=alias, size=0, aggs={"ids": {"cardinality": {"field": "source_id"}}})
        assert distinct["aggregations"]["ids"]["value"] == N
        for field in ("sentiment.label", "integrity.verdict", "rumour.score", "stages.ingest",
                      "stages.sentiment", "stages.integrity", "stages.index"):
            assert es.count(index=alias, query={"exists": {"field": field}})["count"] == N, field

        # the gateway serves what was indexed, with every field
        doc_id = first[0]["ids"][0]
        with httpx.Client(base_url=gateway.url, timeout=30) as client:
            got = client.get(f"/v1/documents/{doc_id}", headers=READER)
            assert got.status_code == 200
            doc = got.json()
            assert doc["platforms"] and doc["sentiment"]["label"] in {"positive", "negative", "neutral"}
            assert doc["integrity"]["verdict"] in {"verified", "suspicious", "fake"}
            assert client.get(f"/v1/documents/{doc_id}").status_code == 401
            pipeline_state = client.get("/v1/admin/pipeline", headers=ADMIN).json()
            assert pipeline_state["stages"][0]["stage"] == "sentiment"
            assert pipeline_state["stages"][0]["length"] == 0 and pipeline_state["dead_letters"] == 0
    # streams drained: acknowledged messages are deleted
    assert rclient.xlen(f"{settings.stream_prefix}:stream:verified") == 0
