"""Hostile inputs over real HTTP: each gets a clean JSON 4xx or a correct accept, never a 5xx.

10 MB bodies, deep nesting, invalid UTF-8, zero-width and control characters, query-injection
strings, HTML and JS payloads; against the ingest API (real Redis) and the gateway's read paths
(real Elasticsearch).
"""

from __future__ import annotations

import httpx
import orjson
import pytest

from services.ingest.app import create_app as create_ingest
from tests.integration.helpers import INGEST, READER
from trustscope.samples import reviews

pytestmark = [pytest.mark.integration]

INJECTIONS = [
    '" OR 1=1 --', "'; DROP TABLE reviews; --", '{"query": {"match_all": {}}}', "*:* AND _exists_:text",
    "\\\" } ] } , { \"script\": \"ctx._source.x=1\"", "redis.call('FLUSHALL')", "$(rm -rf /)", "${jndi:ldap://x/a}",
    "../../../../etc/passwd", "%00%0d%0aSet-Cookie: x=1", "{{7*7}}", "<!--#exec cmd=\"ls\"-->",
]
MARKUP = ['<script>alert("x")</script>', '<img src=x onerror=alert(1)>', "javascript:alert(1)",
          '<svg/onload=fetch("//evil")>', "\"><iframe src=//evil>"]


@pytest.fixture()
def ingest(settings, rclient, live_server):
    with live_server(create_ingest(settings)) as server, \
            httpx.Client(base_url=server.url, timeout=60) as client:
        yield client


def assert_clean_error(r: httpx.Response, *statuses: int) -> dict:
    assert r.status_code in statuses, (r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["error"] and body["message"] and body["request_id"] == r.headers["x-request-id"]
    return body


def stream_docs(bus) -> list[dict]:
    entries = bus.client.xrange(bus.key("ingest"))
    return [orjson.loads(fields[b"doc"]) for _id, fields in entries]


def test_ten_megabyte_bodies(ingest, bus):
    big = {**reviews(1)[0], "text": "很" * (10 * 1024 * 1024 // 3)}
    body = assert_clean_error(ingest.post("/v1/documents", content=orjson.dumps(big), headers=INGEST), 422)
    assert body["errors"][0]["field"] == "text"
    r = ingest.post("/v1/documents/batch", content=orjson.dumps(big) + b"\n" + orjson.dumps(reviews(2)[1]),
                    headers=INGEST)
    assert r.status_code == 200 and r.json()["accepted"] == 1 and r.json()["errors"][0]["line"] == 1
    junk = b"A" * (10 * 1024 * 1024)
    assert_clean_error(ingest.post("/v1/documents", content=junk, headers=INGEST), 400)
    assert bus.backlog("ingest") == 1


def test_deep_nesting(ingest, bus):
    deep = b'{"author": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert_clean_error(ingest.post("/v1/documents", content=deep, headers=INGEST), 400)
    r = ingest.post("/v1/documents/batch", content=deep, headers=INGEST)
    assert r.status_code == 200 and r.json()["rejected"] == 1
    nested = {**reviews(1)[0], "author": {"id": "u", "name": [[[[["x"]]]]]}}
    body = assert_clean_error(ingest.post("/v1/documents", json=nested, headers=INGEST), 422)
    assert body["errors"][0]["field"] == "author.name"
    assert bus.backlog("ingest") == 0


def test_invalid_utf8(ingest, bus):
    good = orjson.dumps(reviews(1)[0])
    broken = good.replace("朋友".encode(), b"\xff\xfe\xc3")
    assert_clean_error(ingest.post("/v1/documents", content=broken, headers=INGEST), 400)
    r = ingest.post("/v1/documents/batch", content=broken + b"\n" + good, headers=INGEST)
    assert r.status_code == 200 and r.json()["accepted"] == 1 and r.json()["errors"][0]["line"] == 1
    lone_surrogate = good.replace("朋友".encode(), b"\\ud800")
    assert_clean_error(ingest.post("/v1/documents", content=lone_surrogate, headers=INGEST), 400)
    assert bus.backlog("ingest") == 1


def test_zero_width_and_control_characters(ingest, bus):
    item = {**reviews(1)[0], "text": "提\u200b现\u200d困\ufeff难\x00\x07，客\u202e服\u2060不理"}
    assert ingest.post("/v1/documents", json=item, headers=INGEST).status_code == 202
    assert stream_docs(bus)[0]["text"] == "提现困难,客服不理"  # NFKC folds the full-width comma
    for field, value in (("source_id", "r-\x00-1"), ("source_id", "r\u200b1"), ("source", "app\nstore")):
        body = assert_clean_error(ingest.post("/v1/documents", json={**item, field: value}, headers=INGEST), 422)
        assert body["errors"][0]["field"] == field
    body = assert_clean_error(ingest.post("/v1/documents", json={**item, "text": "\u200b\u200c\x00"},
                                          headers=INGEST), 422)
    assert body["errors"][0]["field"] == "text"


def test_injection_and_markup_are_stored_verbatim_as_text(ingest, bus):
    payloads = INJECTIONS + MARKUP
    lines = [orjson.dumps({**r, "text": f"{p} 提现困难", "title": p, "source_id": f"inj-{i}"})
             for i, (r, p) in enumerate(zip(reviews(len(payloads), seed=3), payloads, strict=True))]
    r = ingest.post("/v1/documents/batch", content=b"\n".join(lines), headers=INGEST)
    assert r.status_code == 200 and r.json()["accepted"] == len(payloads), r.text[:500]
    stored = {d["source_id"]: d for d in stream_docs(bus)}
    for i, p in enumerate(payloads):
        assert stored[f"inj-{i}"]["text"].startswith(p.strip()[:5])
    # as ids they are refused only for control characters, never interpreted
    r = ingest.post("/v1/documents", json={**reviews(1)[0], "source_id": "../../etc/passwd'; --"}, headers=INGEST)
    assert r.status_code == 202
    for url in MARKUP[2:3] + ["file:///etc/passwd", "http://"]:
        assert_clean_error(ingest.post("/v1/documents", json={**reviews(1)[0], "url": url}, headers=INGEST), 422)


def test_gateway_reads_take_hostile_parameters_cleanly(settings, rclient, es, live_server):
    from services.gateway.app import create_app as create_gateway

    with live_server(create_gateway(settings)) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        for q in INJECTIONS + MARKUP + ["\u200b", "\x00", "提现" * 99]:
            r = client.get("/v1/search", params={"q": q}, headers=READER)
            assert r.status_code in (200, 400, 422), (q, r.status_code, r.text[:300])
        for since in ("1e300", "inf", "-1e20", "0001-01-01T00:00:00+08:00", "9999-12-31T23:59:59-10:00", "nan"):
            body = assert_clean_error(client.get("/v1/search", params={"since": since}, headers=READER), 400, 422)
            assert "since" in body["message"]
        assert client.get("/v1/documents/<script>", headers=READER).status_code in (400, 404)
