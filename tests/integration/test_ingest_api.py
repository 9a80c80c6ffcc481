"""The ingest API against a real Redis: validation, roles, back-pressure, NDJSON batches."""

from __future__ import annotations

import httpx
import orjson
import pytest

from services.ingest.app import create_app
from trustscope.samples import reviews
from tests.integration.helpers import ADMIN, INGEST, READER

pytestmark = pytest.mark.integration


@pytest.fixture()
def ingest(settings, rclient, live_server):
    with live_server(create_app(settings)) as server, \
            httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def test_roles_are_enforced(ingest):
    item = reviews(1)[0]
    assert ingest.post("/v1/documents", json=item).status_code == 401
    assert ingest.post("/v1/documents", json=item, headers={"Authorization": "Bearer nope"}).status_code == 401
    r = ingest.post("/v1/documents", json=item, headers=READER)
    assert r.status_code == 403 and r.json()["error"] == "forbidden"
    assert ingest.post("/v1/documents", json=item, headers=ADMIN).status_code == 202
    assert ingest.get("/healthz").json()["status"] == "ok"
    assert ingest.get("/readyz").status_code == 200


def test_validation_errors_name_the_field(ingest):
    bad = {**reviews(1)[0], "rating": 9, "created_at": "yesterday-ish"}
    r = ingest.post("/v1/documents", json=bad, headers=INGEST)
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert {"rating", "created_at"} <= fields
    r = ingest.post("/v1/documents", content=b"{not json", headers=INGEST)
    assert r.status_code == 400 and r.json()["error"] == "invalid_json"
    r = ingest.post("/v1/documents", json={**reviews(1)[0], "unknown": 1}, headers=INGEST)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "unknown"
    news_with_rating = {**reviews(1)[0], "kind": "news"}
    assert ingest.post("/v1/documents", json=news_with_rating, headers=INGEST).status_code == 422
    invisible = {**reviews(1)[0], "text": "\u200b\u200c "}
    r = ingest.post("/v1/documents", json=invisible, headers=INGEST)
    assert r.status_code == 422 and "empty" in r.json()["message"]


def test_batch_keeps_good_lines_and_reports_bad_ones(ingest, bus):
    good = reviews(5)
    lines = [orjson.dumps(good[0]), b"{broken", orjson.dumps(good[1]), b"[1, 2]",
             orjson.dumps({**good[2], "rating": 0}), b"", orjson.dumps(good[3]), orjson.dumps(good[4])]
    r = ingest.post("/v1/documents/batch", content=b"\n".join(lines), headers=INGEST)
    body = r.json()
    assert r.status_code == 200
    assert body["accepted"] == 4 and body["rejected"] == 3
    assert [e["line"] for e in body["errors"]] == [2, 4, 5]
    assert body["errors"][2]["errors"][0]["field"] == "rating"
    assert bus.backlog("ingest") == 4
    # an edited review is published again as an update, an unchanged one is a duplicate
    edited = {**good[0], "text": good[0]["text"] + "，补充：后来客服主动道歉了"}
    r = ingest.post("/v1/documents/batch", content=orjson.dumps(edited) + b"\n" + orjson.dumps(good[1]),
                    headers=INGEST).json()
    assert r["updated"] == 1 and r["duplicates"] == 1
    assert bus.backlog("ingest") == 5


def test_backpressure_answers_503_with_retry_after(settings, rclient, live_server):
    limited = settings.model_copy(update={"max_backlog": 3, "backlog_check_s": 0})
    with live_server(create_app(limited)) as server, httpx.Client(base_url=server.url) as client:
        items = reviews(6)
        codes = [client.post("/v1/documents", json=i, headers=INGEST).status_code for i in items]
        assert codes[:4] == [202, 202, 202, 202]
        assert codes[4] == 503
        r = client.post("/v1/documents", json=items[5], headers=INGEST)
        assert r.status_code == 503 and r.headers["retry-after"] and r.json()["error"] == "backlog_full"
        r = client.post("/v1/documents/batch", content=orjson.dumps(items[5]), headers=INGEST)
        assert r.status_code == 503


def test_body_limit(settings, rclient, live_server):
    small = settings.model_copy(update={"max_body_bytes": 2000})
    with live_server(create_app(small)) as server, httpx.Client(base_url=server.url) as client:
        big = {**reviews(1)[0], "text": "很好" * 2000}
        r = client.post("/v1/documents", json=big, headers=INGEST)
        assert r.status_code == 413 and r.json()["error"] == "payload_too_large"


def test_platform_linking_from_text_and_url(ingest):
    item = {**reviews(1)[0], "platforms": [], "text": "京東白條和花唄都提現困難", "source_id": "link-1",
            "kind": "social", "rating": None, "url": "https://www.lu.com/news/1"}
    r = ingest.post("/v1/documents", json=item, headers=INGEST)
    assert r.status_code == 202, r.text
    assert r.json()["platforms"] == ["huabei", "jd-finance", "lufax"]
