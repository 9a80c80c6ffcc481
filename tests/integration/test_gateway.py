"""Gateway endpoints over a real Elasticsearch, on documents built by the real pipeline: search,
analytics, registry admin, errors. (Alerts: test_alerts_*.py; widgets and scores: their own tests.)"""

from __future__ import annotations

import pytest

from tests.integration.gateway_corpus import gateway_client, item, pipeline_corpus
from tests.integration.helpers import ADMIN, INGEST, READER

pytestmark = pytest.mark.integration

ITEMS = [
    item(1, "支付寶提現困難，客服不回覆", "alipay", 1),
    item(2, "支付宝到账很快，很满意", "alipay", 5, hours_ago=30),
    item(3, "支付宝到账很快，很满意", "alipay", 5),
    item(4, "听说某平台要跑路了，已经暴雷", "ppdai", kind="social"),
]


@pytest.fixture(scope="module")
def corpus(redis_url, es_url, classifier):
    with pipeline_corpus(redis_url, es_url, classifier, ITEMS) as c:
        yield c


@pytest.fixture(scope="module")
def gateway(corpus):
    with gateway_client(corpus.settings, timeout=30) as c:
        yield c


def test_phrase_search_finds_traditional_text_with_simplified_query(gateway):
    r = gateway.get("/v1/search", params={"q": "提现困难"}, headers=READER)
    assert r.status_code == 200
    assert [d["source_id"] for d in r.json()["documents"]] == ["1"]
    # characters present but not as a phrase: no match
    assert gateway.get("/v1/search", params={"q": "\"困难提现\""}, headers=READER).json()["total"] == 0
    assert gateway.get("/v1/search", params={"q": "提现困难"}).status_code == 401
    assert gateway.get("/v1/search", params={"q": "提现"}, headers=INGEST).status_code == 403


def test_filters_and_cursor_pagination(gateway, corpus):
    r = gateway.get("/v1/platforms/alipay/documents", params={"size": 2}, headers=READER).json()
    assert r["total"] == 3 and len(r["documents"]) == 2 and r["next_cursor"]
    rest = gateway.get("/v1/platforms/alipay/documents", params={"size": 2, "cursor": r["next_cursor"]},
                       headers=READER).json()
    assert len(rest["documents"]) == 1
    seen = {d["source_id"] for d in r["documents"] + rest["documents"]}
    assert seen == {"1", "2", "3"}
    for verdict in ("verified", "suspicious", "fake"):
        got = gateway.get("/v1/search", params={"verdict": verdict}, headers=READER).json()
        assert got["total"] == corpus.count(integrity__verdict=verdict)
        assert all(d["integrity"]["verdict"] == verdict for d in got["documents"])
    neg = gateway.get("/v1/search", params={"sentiment": "negative", "platform": "alipay"}, headers=READER).json()
    assert "1" in {d["source_id"] for d in neg["documents"]}  # the shipped model reads 提现困难 as negative
    assert gateway.get("/v1/search", params={"cursor": "!!"}, headers=READER).status_code == 400
    assert gateway.get("/v1/search", params={"since": "not-a-time"}, headers=READER).status_code == 400
    assert gateway.get("/v1/search", params={"kind": "tweet"}, headers=READER).status_code == 422
    assert gateway.get("/v1/platforms/nope/documents", headers=READER).status_code == 404


def test_sentiment_over_time(gateway, corpus):
    r = gateway.get("/v1/platforms/alipay/sentiment", params={"interval": "day"}, headers=READER)
    assert r.status_code == 200
    buckets = r.json()["buckets"]
    assert sum(b["documents"] for b in buckets) == 3
    assert sum(b["negative"] for b in buckets) == corpus.count(platforms="alipay", sentiment__label="negative")
    assert gateway.get("/v1/platforms/alipay/sentiment", params={"interval": "fortnight"},
                       headers=READER).status_code == 422
    assert gateway.get("/v1/platforms/alipay/sentiment", params={"tz": "Mars/Olympus"},
                       headers=READER).status_code == 400


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


def test_dead_letters_after_is_validated(gateway):
    for bad in ("", "abc", "1-2-3"):
        r = gateway.get("/v1/admin/dead-letters", params={"after": bad}, headers=ADMIN)
        assert r.status_code == 400 and r.json()["field"] == "after", bad
    assert gateway.get("/v1/admin/dead-letters", params={"after": "0-0"}, headers=ADMIN).status_code == 200


def test_errors_carry_a_request_id_and_readyz_hides_internals(gateway):
    r = gateway.get("/v1/search", params={"cursor": "!!"}, headers=READER)
    assert r.headers["X-Request-ID"]
    ready = gateway.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready", "redis": "ok", "elasticsearch": "ok"}


def test_elasticsearch_down_answers_503_json(corpus):
    settings = corpus.settings.model_copy(update={"es_url": "http://127.0.0.1:9"})  # nothing listens
    with gateway_client(settings) as c:
        for path in ("/v1/search", "/v1/platforms/alipay/documents", "/v1/platforms/alipay/sentiment"):
            r = c.get(path, headers=READER)
            assert r.status_code == 503, path
            assert r.json()["error"] == "unavailable" and r.headers["Retry-After"] and r.json()["request_id"]
        ready = c.get("/readyz")
        assert ready.status_code == 503 and ready.json()["elasticsearch"] == "degraded"
        assert ready.headers["Retry-After"]
        assert "127.0.0.1" not in ready.text


def test_one_request_id_mechanism_echoes_a_sane_client_id(gateway):
    rid = "client-req-0001"
    r = gateway.get("/v1/search", params={"cursor": "!!"}, headers={**READER, "X-Request-ID": rid})
    assert r.status_code == 400 and r.headers["X-Request-ID"] == rid and r.json()["request_id"] == rid
    assert set(r.json()) >= {"error", "message", "request_id"}
    r = gateway.get("/v1/no-such-route", headers={"X-Request-ID": "bad id with spaces"})
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    assert r.headers["X-Request-ID"] == r.json()["request_id"] != "bad id with spaces"
