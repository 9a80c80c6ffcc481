"""Gateway endpoints over a real Elasticsearch: search, analytics, alerts, registry admin, widget."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import orjson
import pytest

from services.gateway.app import create_app
from services.indexer.stage import IndexerStage
from trustscope.bus import Message
from trustscope.es import DocIndices
from trustscope.schemas import DocumentIn
from tests.integration.helpers import ADMIN, ALERTS, INGEST, READER

pytestmark = pytest.mark.integration

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def make_doc(i: int, text: str, platform: str, label: str, verdict: str, rating: int | None = 5,
             kind: str = "review", hours_ago: float = 1.0) -> dict:
    item = DocumentIn.model_validate({
        "kind": kind, "source": "gw-test", "source_id": str(i), "text": text, "platforms": [platform],
        "rating": rating if kind == "review" else None, "author": {"id": f"a{i}"},
        "created_at": (NOW - timedelta(hours=hours_ago)).isoformat()})
    doc = orjson.loads(item.to_document([platform]).to_json())
    doc["sentiment"] = {"label": label, "score": 0.8 if label == "positive" else -0.8,
                        "prob_positive": 0.9 if label == "positive" else 0.1, "scored": True, "model": "t"}
    doc["integrity"] = {"verdict": verdict, "fake_prob": 0.9 if verdict == "fake" else 0.05,
                        "reasons": [] if verdict == "verified" else ["near_duplicate: template"],
                        "reason_codes": [] if verdict == "verified" else ["near_duplicate"],
                        "revision": 0, "engine": "t", "updated_at": NOW.isoformat()}
    from trustscope.rumour.lexicon import score_text
    r = score_text(doc["text_simplified"])
    doc["rumour"] = {"score": r.score, "terms": r.terms, "engine": r.engine}
    return doc


@pytest.fixture()
def gateway(settings, rclient, es, live_server):
    indices = DocIndices(settings.es_index_prefix)
    indices.migrate(es)
    docs = [
        make_doc(1, "支付寶提現困難，客服不回覆", "alipay", "negative", "verified", 1),
        make_doc(2, "支付宝到账很快，很满意", "alipay", "positive", "verified", 5, hours_ago=30),
        make_doc(3, "支付宝到账很快，很满意", "alipay", "positive", "fake", 5),
        make_doc(4, "听说某平台要跑路了，已经暴雷", "ppdai", "negative", "verified", kind="social"),
    ]
    IndexerStage(es, indices).process([Message("verified", str(i), {"doc": orjson.dumps(d).decode(),
                                                                   "op": "index"}) for i, d in enumerate(docs)])
    es.indices.refresh(index=indices.read_alias)
    with live_server(create_app(settings)) as server, httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


def test_phrase_search_finds_traditional_text_with_simplified_query(gateway):
    r = gateway.get("/v1/search", params={"q": "提现困难"}, headers=READER)
    assert r.status_code == 200
    assert [d["source_id"] for d in r.json()["documents"]] == ["1"]
    # characters present but not as a phrase: no match
    assert gateway.get("/v1/search", params={"q": "困难提现"}, headers=READER).json()["total"] == 0
    assert gateway.get("/v1/search", params={"q": "提现困难"}).status_code == 401
    assert gateway.get("/v1/search", params={"q": "提现"}, headers=INGEST).status_code == 403


def test_filters_and_cursor_pagination(gateway):
    r = gateway.get("/v1/platforms/alipay/documents", params={"size": 2}, headers=READER).json()
    assert r["total"] == 3 and len(r["documents"]) == 2 and r["next_cursor"]
    rest = gateway.get("/v1/platforms/alipay/documents", params={"size": 2, "cursor": r["next_cursor"]},
                       headers=READER).json()
    assert len(rest["documents"]) == 1
    fakes = gateway.get("/v1/search", params={"verdict": "fake"}, headers=READER).json()
    assert [d["source_id"] for d in fakes["documents"]] == ["3"]
    assert gateway.get("/v1/search", params={"cursor": "!!"}, headers=READER).status_code == 400
    assert gateway.get("/v1/search", params={"since": "not-a-time"}, headers=READER).status_code == 400
    assert gateway.get("/v1/search", params={"kind": "tweet"}, headers=READER).status_code == 422
    assert gateway.get("/v1/platforms/nope/documents", headers=READER).status_code == 404


def test_sentiment_over_time(gateway):
    r = gateway.get("/v1/platforms/alipay/sentiment", params={"interval": "day"}, headers=READER)
    assert r.status_code == 200
    buckets = r.json()["buckets"]
    assert sum(b["documents"] for b in buckets) == 3
    assert sum(b["negative"] for b in buckets) == 1
    assert gateway.get("/v1/platforms/alipay/sentiment", params={"interval": "fortnight"},
                       headers=READER).status_code == 422


def test_rumour_alerts(gateway):
    r = gateway.get("/v1/alerts", headers=ALERTS)
    assert r.status_code == 200
    alerts = {a["platform"]: a for a in r.json()["alerts"]}
    assert "ppdai" in alerts and {"跑路", "暴雷"} <= set(alerts["ppdai"]["terms"])
    assert gateway.get("/v1/alerts", headers=READER).status_code == 403


def test_platform_registry_admin(gateway):
    assert len(gateway.get("/v1/platforms").json()["platforms"]) >= 30
    new = {"id": "new-lender", "name_zh": "新贷", "name_en": "New Lender", "category": "lending",
           "aliases": ["新贷App"], "domains": ["newlender.cn"]}
    assert gateway.post("/v1/admin/platforms", json=new, headers=READER).status_code == 403
    assert gateway.post("/v1/admin/platforms", json=new, headers=ADMIN).status_code == 201
    assert gateway.post("/v1/admin/platforms", json=new, headers=ADMIN).status_code == 409
    bad = gateway.post("/v1/admin/platforms", json={**new, "id": "Bad Id"}, headers=ADMIN)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "id"
    r = gateway.patch("/v1/admin/platforms/new-lender", json={"aliases": ["新贷", "XinDai"]}, headers=ADMIN)
    assert r.status_code == 200 and r.json()["aliases"] == ["新贷", "XinDai"]
    assert gateway.get("/v1/platforms/new-lender").json()["aliases"] == ["新贷", "XinDai"]
    assert gateway.delete("/v1/admin/platforms/new-lender", headers=ADMIN).status_code == 204
    assert gateway.get("/v1/platforms/new-lender").status_code == 404


def test_verified_score_and_widget_disclose_exclusions(gateway):
    r = gateway.get("/v1/platforms/alipay/score")
    assert r.status_code == 200
    score = r.json()
    assert score["total"] == 2 + 1 and score["verified"] == 2
    assert sum(score["excluded"].values()) == 1
    html = gateway.get("/widget/alipay")
    assert html.status_code == 200 and "未计入" in html.text and "支付宝" in html.text
    js = gateway.get("/widget/alipay.js")
    assert js.status_code == 200 and "iframe" in js.text
    assert gateway.get("/widget/unknown-platform").status_code == 404
