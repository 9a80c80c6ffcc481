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


# --- a 202 means it will be searchable; batches are atomic per line ---------------------------------
def test_unindexable_values_are_422_naming_the_field(ingest, bus):
    base = reviews(1)[0]
    cases = {"created_at": [1e300, "inf", -1e20, "0001-01-01T00:00:00+08:00", "9999-12-31T23:59:59-10:00"],
             "rating": [True, "4", 4.5], "source_id": ["a\x00b", "a\nb"], "platforms.0": ["p" * 40_000],
             "author.review_count": [3_000_000_000]}
    for field, values in cases.items():
        for value in values:
            item = dict(base)
            if field == "platforms.0":
                item["platforms"] = [value]
            elif field.startswith("author."):
                item["author"] = {**base["author"], "review_count": value}
            else:
                item[field] = value
            r = ingest.post("/v1/documents", json=item, headers=INGEST)
            assert r.status_code == 422, (field, value, r.text)
            body = r.json()
            assert body["error"] == "validation_error" and body["request_id"] == r.headers["x-request-id"]
            assert field in {e["field"] for e in body["errors"]}, (field, body)
    assert bus.backlog("ingest") == 0


def test_a_bad_line_at_601_of_602_loses_nothing_else(ingest, bus):
    items = reviews(602, seed=5)
    lines = [orjson.dumps(i) for i in items]
    lines[600] = orjson.dumps({**items[600], "created_at": 1e300})
    r = ingest.post("/v1/documents/batch", content=b"\n".join(lines) + b"\n",
                    headers={**INGEST, "Content-Type": "application/x-ndjson"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["lines"] == 602 and body["accepted"] == 601 and body["rejected"] == 1
    assert body["unpublished"] == 0
    assert [e["line"] for e in body["errors"]] == [601]
    assert body["errors"][0]["errors"][0]["field"] == "created_at"
    assert [x["line"] for x in body["results"]] == [n for n in range(1, 603) if n != 601]
    assert bus.backlog("ingest") == 601


def test_an_unexpected_error_in_one_line_is_reported_and_the_others_published(ingest, bus, monkeypatch):
    from trustscope.schemas import DocumentIn

    original = DocumentIn.to_document

    def flaky(self, platforms):
        if self.source_id == "boom":
            raise RuntimeError("secret internals at redis://10.0.0.7:6379")
        return original(self, platforms)

    monkeypatch.setattr(DocumentIn, "to_document", flaky)
    items = reviews(3, seed=8)
    items[1] = {**items[1], "source_id": "boom"}
    r = ingest.post("/v1/documents/batch", content=b"\n".join(orjson.dumps(i) for i in items), headers=INGEST)
    body = r.json()
    assert r.status_code == 200 and body["accepted"] == 2
    assert [e["line"] for e in body["errors"]] == [2] and "10.0.0.7" not in r.text
    assert bus.backlog("ingest") == 2
    # the same bug on the single-document path is a JSON 500 with the request id and no internals
    r = ingest.post("/v1/documents", json=items[1], headers={**INGEST, "X-Request-ID": "trace-42"})
    assert r.status_code == 500 and r.headers["x-request-id"] == "trace-42"
    assert r.json() == {"error": "internal_error", "request_id": "trace-42", "message": r.json()["message"]}
    assert "10.0.0.7" not in r.text and "RuntimeError" not in r.text


def test_too_many_lines_or_bytes_publish_nothing(settings, rclient, live_server, bus):
    small = settings.model_copy(update={"max_batch_lines": 5, "max_body_bytes": 20_000})
    with live_server(create_app(small)) as server, httpx.Client(base_url=server.url) as client:
        items = [orjson.dumps(i) for i in reviews(6)]
        r = client.post("/v1/documents/batch", content=b"\n".join(items), headers=INGEST)
        assert r.status_code == 413 and r.json()["error"] == "too_many_lines"

        def chunks():  # no Content-Length: the limit is enforced while reading
            for _ in range(200):
                yield items[0] + b"\n"

        r = client.post("/v1/documents/batch", content=chunks(), headers=INGEST)
        assert r.status_code == 413 and r.json()["error"] == "payload_too_large"
    assert bus.backlog("ingest") == 0


# --- back-pressure over the whole pipeline, and a Redis outage -----------------------------------
def test_backpressure_looks_at_every_stage_stream(settings, rclient, live_server, bus):
    limited = settings.model_copy(update={"max_backlog": 3, "backlog_check_s": 0})
    bus.publish("verified", [{"doc": "{}"}] * 4)
    with live_server(create_app(limited)) as server, httpx.Client(base_url=server.url) as client:
        r = client.post("/v1/documents", json=reviews(1)[0], headers=INGEST)
        assert r.status_code == 503 and r.headers["retry-after"]
        assert r.json()["error"] == "backlog_full" and r.json()["stream"] == "verified"


def test_backlog_reading_is_cached(settings, rclient, live_server, bus):
    cached = settings.model_copy(update={"max_backlog": 3, "backlog_check_s": 60})
    with live_server(create_app(cached)) as server, httpx.Client(base_url=server.url) as client:
        codes = [client.post("/v1/documents", json=i, headers=INGEST).status_code for i in reviews(6)]
    assert codes == [202] * 6  # one reading (empty streams) served all six requests
    assert bus.backlog("ingest") == 6


def test_redis_outage_is_a_json_503_with_retry_after(settings, live_server):
    from tests.integration.helpers import free_port

    port = free_port()
    down = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{port}/0",
                                       "es_url": f"http://127.0.0.1:{free_port()}"})
    with live_server(create_app(down)) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        item = reviews(1)[0]
        for r in (client.post("/v1/documents", json=item, headers=INGEST),
                  client.post("/v1/documents/batch", content=orjson.dumps(item), headers=INGEST)):
            assert r.status_code == 503, r.text
            assert r.headers["retry-after"] == str(down.retry_after_s)
            assert r.json()["error"] == "unavailable" and r.json()["request_id"]
            assert str(port) not in r.text
        r = client.get("/readyz")
        assert r.status_code == 503
        assert r.json() == {"status": "not_ready", "redis": "degraded", "elasticsearch": "degraded"}


def test_request_ids(ingest):
    r = ingest.get("/nope", headers={"X-Request-ID": "abc-123"})
    assert r.status_code == 404 and r.headers["x-request-id"] == "abc-123"
    assert r.json()["request_id"] == "abc-123" and r.json()["error"] == "not_found"
    for hostile in (b"a b", b"x" * 500, b"<script>", "a\u200bb".encode()):
        r = ingest.get("/healthz", headers={"X-Request-ID": hostile})
        assert r.status_code == 200 and r.headers["x-request-id"].encode() != hostile
        assert len(r.headers["x-request-id"]) == 32
    assert ingest.get("/healthz").headers["x-request-id"]


def test_every_value_at_the_limits_is_accepted_and_indexable(ingest, bus, settings, es):
    """What intake accepts at the edge of every limit, the real index mapping takes (a 202 is honest)."""
    from trustscope.es import DocIndices
    from trustscope.schemas import (
        EARLIEST_TIME,
        MAX_AUTHOR_ID_CHARS,
        MAX_AUTHOR_NAME_CHARS,
        MAX_INT32,
        MAX_PLATFORM_ID_CHARS,
        MAX_SOURCE_ID_CHARS,
        MAX_TEXT_CHARS,
        MAX_TITLE_CHARS,
        MAX_URL_CHARS,
    )

    wide = "\U00020000"  # a 4-byte UTF-8 character (CJK extension B): the worst case for term bytes
    edge = {"kind": "review", "source": "s" * 100, "source_id": wide * MAX_SOURCE_ID_CHARS, "rating": 5,
            "text": "评" * MAX_TEXT_CHARS, "title": "标" * MAX_TITLE_CHARS, "language": "zh-Hans-CN",
            "url": "https://example.com/" + "a" * (MAX_URL_CHARS - 20),
            "platforms": [f"p{i}-" + "x" * (MAX_PLATFORM_ID_CHARS - 4) for i in range(20)],
            "author": {"id": wide * MAX_AUTHOR_ID_CHARS, "name": wide * MAX_AUTHOR_NAME_CHARS,
                       "review_count": MAX_INT32, "created_at": EARLIEST_TIME.isoformat()},
            "created_at": EARLIEST_TIME.isoformat()}
    low = {**edge, "source_id": "low", "rating": 1, "author": {"id": "u", "review_count": 0}}
    for item in (edge, low):
        r = ingest.post("/v1/documents", json=item, headers=INGEST)
        assert r.status_code == 202, r.text[:500]
    indices = DocIndices(settings.es_index_prefix)
    indices.migrate(es)
    for _id, fields in bus.client.xrange(bus.key("ingest")):
        doc = orjson.loads(fields[b"doc"])
        es.index(index=indices.write_alias, id=doc["id"], document=doc)  # raises on a mapping refusal
    es.indices.refresh(index=indices.read_alias)
    assert es.count(index=indices.read_alias)["count"] == 2
    hit = es.search(index=indices.read_alias, query={"term": {"author_review_count": MAX_INT32}})
    assert hit["hits"]["total"]["value"] == 1


def test_redis_lost_mid_batch_reports_exactly_the_unpublished_lines(settings, rclient, live_server, bus,
                                                                    monkeypatch):
    import redis as redis_lib

    import trustscope.intake as intake_module

    monkeypatch.setattr(intake_module, "PUBLISH_CHUNK", 2)
    app = create_app(settings)
    items = reviews(5, seed=21)
    with live_server(app) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        intake = app.state.intake
        real_publish = intake._publish_chunk
        publishes = {"n": 0}

        def flaky_publish(docs):  # the batch publishing round trips: the second one loses Redis
            publishes["n"] += 1
            if publishes["n"] == 2:
                raise redis_lib.ConnectionError("Connection reset by peer")
            return real_publish(docs)

        monkeypatch.setattr(intake, "_publish_chunk", flaky_publish)
        r = client.post("/v1/documents/batch", content=b"\n".join(orjson.dumps(i) for i in items), headers=INGEST)
        body = r.json()
        assert r.status_code == 200 and r.headers["retry-after"]
        assert [x["line"] for x in body["results"]] == [1, 2]
        assert [(e["line"], e["retry"]) for e in body["errors"]] == [(3, True), (4, True), (5, True)]
        assert body["unpublished"] == 3 and body["rejected"] == 0
        assert bus.backlog("ingest") == 2
        # resending everything is safe: the published lines are duplicates, the others accepted
        r = client.post("/v1/documents/batch", content=b"\n".join(orjson.dumps(i) for i in items), headers=INGEST)
        assert (r.json()["duplicates"], r.json()["accepted"]) == (2, 3)
    assert bus.backlog("ingest") == 5


def test_keys_from_the_redis_store_and_platform_keys_own_platforms_only(ingest, settings, rclient):
    from trustscope.keys import KeySpec, RedisKeyStore

    store = RedisKeyStore(rclient, settings.stream_prefix)
    issued = store.create(KeySpec(label="poller", roles=["ingest"]))
    pipeline_key = issued.key
    platform_key = store.create(KeySpec(label="alipay app", roles=["platform"], platforms=["alipay"])).key
    as_pipeline = {"Authorization": f"Bearer {pipeline_key}"}
    as_platform = {"Authorization": f"Bearer {platform_key}"}
    item = reviews(1)[0]
    assert ingest.post("/v1/documents", json=item, headers=as_pipeline).status_code == 202  # stored key

    own = {**item, "source_id": "own-1"}
    r = ingest.post("/v1/documents", json=own, headers=as_platform)
    assert r.status_code == 202 and r.json()["platforms"][0] == "alipay"
    for bad, field in (({**own, "platforms": ["ppdai"]}, "platforms"), ({**own, "platforms": []}, "platforms"),
                       ({**own, "kind": "news", "rating": None}, "kind")):
        r = ingest.post("/v1/documents", json=bad, headers=as_platform)
        assert r.status_code == 403 and r.json()["error"] == "forbidden" and r.json()["field"] == field, r.text
        assert r.json()["request_id"] == r.headers["X-Request-ID"]

    before = rclient.xlen(f"{settings.stream_prefix}:stream:ingest")
    batch = b"\n".join(orjson.dumps({**item, "source_id": f"b-{i}", "platforms": [p]})
                       for i, p in enumerate(["alipay", "ppdai"]))
    r = ingest.post("/v1/documents/batch", content=batch, headers={**as_platform, "Content-Type": "application/x-ndjson"})
    assert r.status_code == 403 and r.json()["line"] == 2
    assert rclient.xlen(f"{settings.stream_prefix}:stream:ingest") == before  # nothing published

    store.revoke(str(issued.record["id"]))
    assert ingest.post("/v1/documents", json=item, headers=as_pipeline).status_code == 401
