"""A templated campaign through the real pipeline: ingest API -> Redis streams -> sentiment ->
integrity (Redis state) -> Elasticsearch, then the gateway's verified score.

The campaign's first reviews look innocent when they arrive; the test checks that the revision made
when the campaign became visible reached the index, and that the verified score leaves them out.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import pytest

from services.gateway.app import create_app as create_gateway
from services.ingest.app import create_app as create_ingest
from tests.integration.helpers import INGEST, READER, wait_until
from trustscope.settings import get_settings

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not (Path(get_settings().sentiment_model_dir) / "config.json").exists(),
                       reason="the pipeline's sentiment stage needs a trained model checkpoint (none yet)"),
]

BASE = datetime(2026, 3, 1, tzinfo=UTC)
TPL = "在陆金所理财{n}个月了，收益稳定，提现{m}分钟就到账，客服{name}特别耐心，推荐给大家"
NAMES = ["小王", "刘姐", "阿强", "Amy", "陈老师"]


def _campaign(n: int) -> list[dict]:
    return [{
        "kind": "review", "source": "test-app-store", "source_id": f"camp-{i}", "platforms": ["lufax"],
        "author": {"id": f"new-{i}", "review_count": 1, "created_at": (BASE + timedelta(hours=i - 24)).isoformat()},
        "rating": 5, "text": TPL.format(n=i % 12 + 1, m=i % 50 + 1, name=NAMES[i % 5]),
        "created_at": (BASE + timedelta(hours=i)).isoformat(),
    } for i in range(n)]


def test_campaign_is_revised_in_the_index_and_left_out_of_the_score(settings, es, pipeline, live_server):
    items = _campaign(12)
    with live_server(create_ingest(settings)) as ingest, live_server(create_gateway(settings)) as gateway, \
            pipeline():
        ids = []
        alias = f"{settings.es_index_prefix}-docs"

        def indexed(doc_id: str) -> dict | None:
            es.indices.refresh(index=alias)
            d = es.options(ignore_status=404).get(index=alias, id=doc_id)
            return d["_source"] if d.get("found") else None

        with httpx.Client(base_url=ingest.url, headers=INGEST, timeout=60) as client:
            for n, item in enumerate(items):  # one by one, in time order, as a stream would see them
                r = client.post("/v1/documents", json=item)
                assert r.status_code in (200, 202), r.text
                ids.append(r.json()["id"])
                if n == 0:  # the first review alone reaches the index as an ordinary review
                    alone = wait_until(lambda: indexed(ids[0]), timeout=240)
                    assert alone["integrity"]["verdict"] == "verified"

        def revised() -> bool:
            es.indices.refresh(index=alias)
            docs = [es.options(ignore_status=404).get(index=alias, id=i) for i in ids]
            return all(d.get("found") and d["_source"].get("integrity", {}).get("verdict") == "fake" for d in docs)

        wait_until(revised, timeout=240)
        first = es.get(index=alias, id=ids[0])["_source"]["integrity"]
        assert first["revision"] >= 1  # it was verified when it arrived alone
        assert any(r.startswith("near_duplicate") for r in first["reasons"])
        with httpx.Client(base_url=gateway.url, timeout=30) as client:
            score = client.get("/v1/platforms/lufax/score", headers=READER).json()
        # the first review is a near-duplicate cluster member; the later ones also repeat it
        # (copy attribution by time), and either may be their primary reason
        ex = score["excluded"]
        assert score["total"] >= 12 and ex.get("near_duplicate", 0) + ex.get("copied_text", 0) >= 12
        assert score["verified"] == 0 and score["fake"] == 12  # the revisions moved the maintained state
        assert orjson.dumps(score)
