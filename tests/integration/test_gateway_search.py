"""Regulator search, analytics, export and the audit log, on documents built by the real pipeline."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import orjson
import pytest

from tests.integration.gateway_corpus import NOW, gateway_client, item, pipeline_corpus
from tests.integration.helpers import ADMIN, ALERTS, READER
from trustscope.samples import reviews

pytestmark = pytest.mark.integration

N_SAMPLES = 36
ITEMS = reviews(N_SAMPLES, seed=11, end=NOW - timedelta(hours=2)) + [
    item(101, "拍拍贷催收太凶，催收电话一天打十几个", "ppdai", 1, source="complaints"),
    item(102, "催收电话打到我同事那里，拍拍贷太过分了", "ppdai", 1, source="complaints"),
    item(103, "听说拍拍贷要跑路了，已经暴雷，大家快提现", "ppdai", kind="social", source="weibo"),
    item(104, "=HYPERLINK(\"http://evil.example\",\"点我\") 支付宝很好用", "alipay", 5, source="complaints"),
]


@pytest.fixture(scope="module")
def corpus(redis_url, es_url, classifier):
    with pipeline_corpus(redis_url, es_url, classifier, ITEMS) as c:
        yield c


@pytest.fixture(scope="module")
def gw(corpus):
    with gateway_client(corpus.settings) as c:
        yield c


def get(gw, path, **params):
    r = gw.get(path, params=params, headers=READER)
    assert r.status_code == 200, r.text
    return r.json()


def test_simple_query_syntax_phrases_operators_and_highlights(gw):
    r = get(gw, "/v1/search", q="催收电话")
    assert {d["source_id"] for d in r["documents"]} >= {"101", "102"}
    assert all("<mark>" in "".join(d["highlight"]["text_simplified"]) for d in r["documents"])
    # a run of Chinese characters is a phrase: the characters of 电话催收 are in 101 but not in that order
    assert "101" not in {d["source_id"] for d in get(gw, "/v1/search", q="电话催收")["documents"]}
    both = get(gw, "/v1/search", q="催收 同事")
    assert [d["source_id"] for d in both["documents"]] == ["102"]
    either = get(gw, "/v1/search", q="同事 | 跑路")
    assert {d["source_id"] for d in either["documents"]} == {"102", "103"}
    minus = get(gw, "/v1/search", q="催收 -同事")
    assert "102" not in {d["source_id"] for d in minus["documents"]} and minus["total"] >= 1
    # query_string syntax is not interpreted: no field access, no regex, no error
    for hostile in ("text:催收", "/.*/", "a AND (", "\\", "platforms:* OR _id:1", '"unterminated'):
        assert gw.get("/v1/search", params={"q": hostile}, headers=READER).status_code == 200, hostile
    # highlighted text is HTML-escaped around the marks
    xss = get(gw, "/v1/search", q="支付宝很好用")
    assert "<mark>" in xss["documents"][0]["highlight"]["text_simplified"][0]
    assert "&quot;" in xss["documents"][0]["highlight"]["text_simplified"][0]


def test_filters(gw, corpus):
    assert get(gw, "/v1/search", source="complaints")["total"] == 3
    assert get(gw, "/v1/search", platform="ppdai,alipay", source="complaints")["total"] == 3
    assert get(gw, "/v1/search", kind="social")["total"] == 1
    rumour = get(gw, "/v1/search", rumour_min=0.5, size=500)
    expected = corpus.es.count(index=corpus.indices.read_alias,
                               query={"range": {"rumour.score": {"gte": 0.5}}})["count"]
    assert rumour["total"] == expected and "103" in {d["source_id"] for d in rumour["documents"]}
    assert all(d["rumour"]["score"] >= 0.5 for d in rumour["documents"])
    assert get(gw, "/v1/search", rumour_max=0.49)["total"] == len(ITEMS) - expected
    recent = get(gw, "/v1/search", since=(NOW - timedelta(hours=1, minutes=30)).isoformat())
    assert {d["source_id"] for d in recent["documents"]} == {"101", "102", "103", "104"}
    for label in ("positive", "negative"):
        assert get(gw, "/v1/search", sentiment=label)["total"] == corpus.count(sentiment__label=label)
    assert get(gw, "/v1/search", verdict="verified")["total"] == corpus.count(integrity__verdict="verified")
    for params, field in (({"rumour_min": 0.9, "rumour_max": 0.1}, "rumour_min"),
                          ({"since": "2026-02-01", "until": "2026-01-01"}, "since"),
                          ({"until": "yesterday"}, "until")):
        r = gw.get("/v1/search", params=params, headers=READER)
        assert r.status_code == 400 and r.json()["field"] == field


def test_sorting(gw):
    newest = get(gw, "/v1/search", size=500)["documents"]
    times = [d["created_at"] for d in newest]
    assert times == sorted(times, reverse=True)
    oldest = [d["created_at"] for d in get(gw, "/v1/search", sort="oldest", size=500)["documents"]]
    assert oldest == sorted(oldest)
    assert get(gw, "/v1/search", sort="rumour", size=1)["documents"][0]["source_id"] == "103"
    neg = [d["sentiment"]["score"] for d in get(gw, "/v1/search", sort="negative", size=500)["documents"]]
    assert neg == sorted(neg)
    assert gw.get("/v1/search", params={"sort": "random"}, headers=READER).status_code == 422


def test_deep_pagination_with_point_in_time(gw, corpus):
    seen: list[str] = []
    page = get(gw, "/v1/search", size=7)
    total = page["total"]
    seen += [d["id"] for d in page["documents"]]
    # a document indexed after the first page is not in this result set (point in time)
    corpus.es.index(index=corpus.indices.write_alias, id="late", refresh=True,
                    document={**corpus.docs["101"], "id": "late", "source_id": "late"})
    try:
        while "next_cursor" in page:
            page = get(gw, "/v1/search", size=7, cursor=page["next_cursor"])
            seen += [d["id"] for d in page["documents"]]
    finally:
        corpus.es.delete(index=corpus.indices.write_alias, id="late", refresh=True)
    assert total == len(ITEMS) and len(seen) == len(ITEMS) == len(set(seen)) and "late" not in seen


def test_bad_cursors_are_400_json(gw):
    first = get(gw, "/v1/search", size=5)
    good = first["next_cursor"]
    body, sig = good.split(".")
    forged = orjson.loads(__import__("base64").urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    forged["after"] = [0, 0]
    forged_body = __import__("base64").urlsafe_b64encode(orjson.dumps(forged)).decode().rstrip("=")
    for bad in ("!!", "abc", "a.b.c", good[:-3], f"{forged_body}.{sig}", "x" * 3000):
        r = gw.get("/v1/search", params={"size": 5, "cursor": bad}, headers=READER)
        assert r.status_code == 400 and r.json()["error"] == "bad_cursor", bad
    # a cursor is bound to its query
    r = gw.get("/v1/search", params={"size": 5, "cursor": good, "kind": "review"}, headers=READER)
    assert r.status_code == 400 and "different query" in r.json()["message"]


def test_analytics(gw, corpus):
    by_platform = get(gw, "/v1/analytics/sentiment", interval="month", top=3)
    assert len(by_platform["platforms"]) == 3
    first = by_platform["platforms"][0]
    assert sum(b["documents"] for b in first["buckets"]) == first["documents"] == corpus.count(platforms=first["platform"])
    ranked = get(gw, "/v1/analytics/negative-share", min_documents=3)["platforms"]
    shares = [p["negative_share"] for p in ranked]
    assert shares == sorted(shares, reverse=True) and ranked
    top = ranked[0]
    assert top["negative"] == corpus.count(platforms=top["platform"], sentiment__label="negative")
    assert get(gw, "/v1/analytics/negative-share", min_documents=10_000)["platforms"] == []
    sig = get(gw, "/v1/analytics/significant-terms", platform="ppdai")
    assert "催收" in [t["term"] for t in sig["terms"]][:5]
    assert gw.get("/v1/analytics/significant-terms", headers=READER).status_code == 400
    assert gw.get("/v1/analytics/sentiment", params={"tz": "Nowhere/Land"}, headers=READER).status_code == 400
    assert gw.get("/v1/analytics/negative-share", headers=ALERTS).status_code == 403


def test_csv_and_ndjson_export_everything_matching(gw, corpus):
    r = gw.get("/v1/export", params={"format": "csv"}, headers=READER)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["id", "created_at", "kind"] and len(rows) == len(ITEMS) + 1
    texts = {row[0]: row for row in rows[1:]}
    evil = texts[corpus.docs["104"]["id"]]
    assert evil[16].startswith("'=HYPERLINK")  # no formula reaches Excel
    assert "催收" in texts[corpus.docs["101"]["id"]][16]
    nd = gw.get("/v1/export", params={"format": "ndjson", "platform": "ppdai", "source": "complaints"},
                headers=READER)
    lines = [orjson.loads(x) for x in nd.content.splitlines()]
    assert {d["source_id"] for d in lines} == {"101", "102"}
    limited = gw.get("/v1/export", params={"format": "ndjson", "limit": 5}, headers=READER)
    assert len(limited.content.splitlines()) == 5
    assert gw.get("/v1/export", params={"format": "xlsx"}, headers=READER).status_code == 422
    assert gw.get("/v1/export").status_code == 401


def test_every_regulator_query_and_export_is_audited(gw):
    marker = "审计标记词"
    assert get(gw, "/v1/search", q=marker, platform="ppdai")["total"] == 0
    gw.get("/v1/export", params={"format": "ndjson", "platform": "ppdai", "source": "complaints"}, headers=READER)
    get(gw, "/v1/analytics/negative-share")
    from tests.integration.helpers import wait_until

    # entries become searchable at the audit index's next refresh (1 s)
    r = wait_until(lambda: (x := gw.get("/v1/admin/audit", params={"q": marker}, headers=ADMIN)).json()["entries"]
                   and x, timeout=10)
    assert r.status_code == 200
    entry = r.json()["entries"][0]
    assert entry["query"] == marker and entry["filters"] == {"platforms": ["ppdai"]}
    assert entry["role"] == "regulator" and entry["key_id"] and entry["result_count"] == 0 and entry["at"]
    exports = wait_until(lambda: (x := gw.get("/v1/admin/audit", params={"action": "analytics"},
                                              headers=ADMIN).json())["total"] and x, timeout=10)
    exports = gw.get("/v1/admin/audit", params={"action": "export", "platform": "ppdai"}, headers=ADMIN).json()
    statuses = {e["status"]: e["result_count"] for e in exports["entries"] if e["filters"].get("source") == "complaints"}
    assert statuses == {"started": 0, "ok": 2}
    assert gw.get("/v1/admin/audit", params={"action": "analytics"}, headers=ADMIN).json()["total"] >= 1
    assert gw.get("/v1/admin/audit", headers=READER).status_code == 403  # regulators cannot read or edit it
    assert gw.get("/v1/admin/audit", params={"cursor": "@@"}, headers=ADMIN).status_code == 400
    page = gw.get("/v1/admin/audit", params={"size": 1}, headers=ADMIN).json()
    nxt = gw.get("/v1/admin/audit", params={"size": 1, "cursor": page["next_cursor"]}, headers=ADMIN).json()
    assert nxt["entries"] and nxt["entries"][0] != page["entries"][0]



def test_expired_point_in_time_is_a_400(gw, corpus):
    import base64

    page = get(gw, "/v1/search", size=5)
    body = page["next_cursor"].split(".")[0]
    state = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    corpus.es.close_point_in_time(id=state["pit"])  # what 5 idle minutes do
    r = gw.get("/v1/search", params={"size": 5, "cursor": page["next_cursor"]}, headers=READER)
    assert r.status_code == 400 and r.json()["error"] == "cursor_expired", r.text


def _without_basis(body):
    return {k: v for k, v in body.items() if k != "basis"}


def test_sentiment_rollups_answer_exactly_what_the_documents_say(gw, corpus):
    """The same analytics from the documents (no rollups yet), from rebuilt rollups, with a newly
    indexed document still dirty (counted live) and after the refresh folded it in: all equal."""
    from trustscope.bus import Message
    from trustscope.es.rollup import SentimentRollups

    from services.indexer.stage import IndexerStage

    mid_day = (NOW - timedelta(days=3, hours=5, minutes=7)).isoformat()
    calls = [("/v1/analytics/sentiment", {"interval": "day"}),
             ("/v1/analytics/sentiment", {"interval": "week", "since": mid_day}),
             ("/v1/analytics/sentiment", {"interval": "month", "platform": "ppdai,alipay", "top": 5}),
             ("/v1/analytics/sentiment", {"interval": "day", "sentiment": "negative", "kind": "review",
                                          "until": (NOW - timedelta(minutes=90)).isoformat()}),
             ("/v1/analytics/sentiment", {"interval": "day", "verdict": "verified", "source": "complaints"}),
             ("/v1/analytics/negative-share", {"min_documents": 1}),
             ("/v1/analytics/negative-share", {"min_documents": 1, "since": mid_day, "kind": "review"}),
             ("/v1/platforms/ppdai/sentiment", {"interval": "day"}),
             ("/v1/platforms/alipay/sentiment", {"interval": "week", "since": mid_day})]
    live = [get(gw, path, **params) for path, params in calls]
    assert {b["basis"]["method"] for b in live} == {"documents"}
    assert sum(b["documents"] for b in live[-2]["buckets"]) == corpus.count(platforms="ppdai")

    rollups = SentimentRollups(corpus.es, corpus.redis, corpus.indices, corpus.settings.stream_prefix)
    try:
        built = rollups.rebuild()
        assert built["rollups"] > 0 and rollups.is_ready()
        rolled = [get(gw, path, **params) for path, params in calls]
        assert {b["basis"]["method"] for b in rolled} == {"rollups"}
        assert rolled[1]["basis"]["live_edge_days"] == 1  # the partial first day is counted live
        for a, b in zip(rolled, live):
            assert _without_basis(a) == _without_basis(b), (a, b)
        # hour buckets, other time zones and text queries are answered from the documents
        day_ago = (NOW - timedelta(days=1)).isoformat()
        assert get(gw, "/v1/analytics/sentiment", interval="hour", since=day_ago)["basis"]["method"] == "documents"
        r = gw.get("/v1/analytics/sentiment", params={"interval": "hour"}, headers=READER)
        assert r.status_code == 400 and r.json()["field"] == "interval"  # unbounded hours: refused
        assert get(gw, "/v1/analytics/sentiment", tz="UTC")["basis"]["method"] == "documents"
        assert get(gw, "/v1/analytics/sentiment", q="催收")["basis"]["method"] == "documents"

        # a new document through the indexer: its platform-day is dirty and counted live at once
        doc = {**corpus.docs["101"], "id": "rollup-late", "source_id": "rollup-late"}
        stage = IndexerStage(corpus.es, corpus.indices, rollups=rollups)
        rollups._last_refresh = float("inf")  # keep the mark: refresh explicitly below
        stage.process([Message("verified", "1-0", {"doc": orjson.dumps(doc).decode()})])
        corpus.es.indices.refresh(index=corpus.indices.read_alias)
        trend = get(gw, "/v1/platforms/ppdai/sentiment", interval="day")
        assert trend["basis"]["live_platform_days"] >= 1
        assert sum(b["documents"] for b in trend["buckets"]) == corpus.count(platforms="ppdai")
        assert rollups.refresh() >= 1 and rollups.dirty() == {}
        after = get(gw, "/v1/platforms/ppdai/sentiment", interval="day")
        assert after["basis"]["live_platform_days"] == 0 and after["buckets"] == trend["buckets"]
        corpus.es.delete(index=corpus.indices.write_alias, id="rollup-late", refresh=True)
        rollups.mark([doc])
        rollups.refresh()
        assert [_without_basis(get(gw, path, **params)) for path, params in calls] == \
            [_without_basis(b) for b in live]
    finally:
        corpus.redis.delete(rollups.ready_key, rollups.dirty_key)
        corpus.es.options(ignore_status=404).indices.delete_index_template(name=rollups.indices.template)


def test_documents_path_samples_very_many_matches_and_says_so(gw, corpus, monkeypatch):
    """Above 2 x SAMPLE_DOCUMENTS matches a documents-path aggregation reads a random sample and
    labels its counts as estimates; exact=true counts every document."""
    from services.gateway import sentiment_view

    monkeypatch.setattr(sentiment_view, "SAMPLE_DOCUMENTS", 5)  # the gateway runs in this process
    sampled = get(gw, "/v1/analytics/sentiment", tz="UTC", interval="month")
    basis = sampled["basis"]
    assert basis["method"] == "documents_sampled" and basis["exact"] is False
    assert basis["matching_documents"] == len(ITEMS) and basis["probability"] == round(5 / len(ITEMS), 6)
    assert "estimates" in basis["note"]
    exact = get(gw, "/v1/analytics/sentiment", tz="UTC", interval="month", exact="true")
    assert exact["basis"] == {"method": "documents", "exact": True}
    assert sum(p["documents"] for p in exact["platforms"]) == len(ITEMS)
    small = get(gw, "/v1/analytics/negative-share", q="催收", min_documents=1)  # few matches: exact
    assert small["basis"]["exact"] is True


def test_rebuild_rollups_cli_builds_what_the_gateway_then_reads(gw, corpus, monkeypatch):
    """`trustscope es rebuild-rollups` against the real servers: rollups ready, answers unchanged."""
    from typer.testing import CliRunner

    from trustscope.cli.main import app
    from trustscope.es.rollup import SentimentRollups
    from trustscope.settings import get_settings

    s = corpus.settings
    for name, value in {"TS_REDIS_URL": s.redis_url, "TS_ES_URL": s.es_url,
                        "TS_STREAM_PREFIX": s.stream_prefix, "TS_ES_INDEX_PREFIX": s.es_index_prefix}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    rollups = SentimentRollups(corpus.es, corpus.redis, corpus.indices, s.stream_prefix)
    live = _without_basis(get(gw, "/v1/analytics/sentiment", interval="day"))
    try:
        out = CliRunner().invoke(app, ["es", "rebuild-rollups"])
        assert out.exit_code == 0, out.output
        assert orjson.loads(out.output)["rollups"] > 0 and rollups.is_ready()
        rolled = get(gw, "/v1/analytics/sentiment", interval="day")
        assert rolled["basis"]["method"] == "rollups" and _without_basis(rolled) == live
    finally:
        get_settings.cache_clear()
        corpus.redis.delete(rollups.ready_key, rollups.dirty_key)
        corpus.es.options(ignore_status=404).indices.delete_index_template(name=rollups.indices.template)


def test_rollup_time_zone_is_a_setting_and_rollups_of_another_zone_are_not_read(gw, corpus):
    """TS_ROLLUP_TZ: rollups built in UTC answer a gateway configured for UTC (the same numbers as
    the documents), and are never read by a gateway whose rollup zone is Asia/Shanghai."""
    from services.gateway.app import create_app
    from tests.integration.helpers import LiveServer
    from trustscope.es.rollup import SentimentRollups

    import httpx

    calls = [("/v1/analytics/sentiment", {"interval": "day"}), ("/v1/analytics/negative-share", {"min_documents": 1}),
             ("/v1/platforms/ppdai/sentiment", {"interval": "week"})]
    utc_live = [get(gw, path, tz="UTC", **params) for path, params in calls]  # the documents, in UTC
    assert {b["basis"]["method"] for b in utc_live} == {"documents"}
    rollups = SentimentRollups(corpus.es, corpus.redis, corpus.indices, corpus.settings.stream_prefix, tz="UTC")
    try:
        assert rollups.rebuild()["tz"] == "UTC" and rollups.is_ready()
        shanghai = get(gw, "/v1/analytics/sentiment", interval="day")
        assert shanghai["tz"] == "Asia/Shanghai" and shanghai["basis"]["method"] == "documents"
        assert "another time zone" in shanghai["basis"]["note"]
        utc_settings = corpus.settings.model_copy(update={"rollup_tz": "UTC"})
        with LiveServer(create_app(utc_settings)) as server, httpx.Client(base_url=server.url, timeout=60) as c:
            for (path, params), live in zip(calls, utc_live, strict=True):
                r = c.get(path, params=params, headers=READER)
                assert r.status_code == 200, r.text
                body = r.json()
                assert body["basis"]["method"] == "rollups" and body["basis"].get("rollup_tz", "UTC") == "UTC"
                assert _without_basis(body) == _without_basis(live), (body, live)
    finally:
        corpus.redis.delete(rollups.ready_key, rollups.dirty_key)
        corpus.es.options(ignore_status=404).indices.delete_index_template(name=rollups.indices.template)


def _reference_series(docs, interval, tz, detail):
    """Per platform, per bucket start (local day/week/month in ``tz``): what the sentiment analytics
    must say about ``docs``, computed here in Python from the documents themselves."""
    from collections import defaultdict
    from datetime import datetime as dt
    from zoneinfo import ZoneInfo

    from services.gateway.sentiment_view import bucket_start

    zone = ZoneInfo(tz)
    out = defaultdict(lambda: defaultdict(lambda: {"documents": 0, "positive": 0, "negative": 0, "neutral": 0,
                                                   "s": 0.0, "n": 0, "rumour": 0, "verdicts": defaultdict(int)}))
    for d in docs:
        local = dt.fromisoformat(d["created_at"].replace("Z", "+00:00")).astimezone(zone)
        start = local.replace(hour=0, minute=0, second=0, microsecond=0)
        if interval == "week":
            start = start - timedelta(days=start.weekday())
        elif interval == "month":
            start = start.replace(day=1)
        start = dt(start.year, start.month, start.day, tzinfo=zone)  # the zone's offset on that day
        key = bucket_start(int(start.timestamp() * 1000), tz) if interval else None
        for p in d["platforms"]:
            c = out[p][key]
            c["documents"] += 1
            label = (d.get("sentiment") or {}).get("label")
            if label in ("positive", "negative", "neutral"):
                c[label] += 1
            if (d.get("sentiment") or {}).get("score") is not None:
                c["s"] += d["sentiment"]["score"]
                c["n"] += 1
            if ((d.get("rumour") or {}).get("score") or 0) >= 0.5:
                c["rumour"] += 1
            verdict = (d.get("integrity") or {}).get("verdict")
            if verdict:
                c["verdicts"][verdict] += 1
    return out


def _same_as_reference(buckets, ref, detail):
    """Every non-empty bucket equals the reference, every reference bucket is there."""
    seen = set()
    for b in buckets:
        if not b["documents"]:
            continue
        r = ref[b["start"]]
        seen.add(b["start"])
        assert (b["documents"], b["positive"], b["negative"], b["neutral"]) == \
            (r["documents"], r["positive"], r["negative"], r["neutral"]), (b, r)
        assert (b["avg_score"] is None) == (r["n"] == 0)
        if r["n"]:
            assert abs(b["avg_score"] - r["s"] / r["n"]) < 1e-4, (b, r)
        if detail:
            assert b["rumour_mentions"] == r["rumour"] and b["verdicts"] == {k: v for k, v in r["verdicts"].items()
                                                                            if k != "none"}, (b, r)
    assert seen == set(ref), (seen, set(ref))


@pytest.mark.parametrize("q", ["催收", "提现", "催收 | 跑路", "客服 -催收"])
def test_documents_path_counts_exactly_the_documents_the_plain_query_matches(gw, corpus, q):
    """The documents-path aggregation (flat per-bucket metrics: label ``filters`` and one ``stats``)
    says exactly what the documents matched by the plain simple_query_string say, bucket by bucket,
    for a text query, other time zones, every interval, negative share and one platform's trend."""
    from services.gateway.queries import text_query

    hits = corpus.es.search(index=corpus.indices.read_alias, size=1000, query=text_query(q))["hits"]["hits"]
    docs = [h["_source"] for h in hits]
    assert docs, q
    for interval, tz in (("day", "Asia/Shanghai"), ("week", "UTC"), ("month", "America/New_York")):
        body = get(gw, "/v1/analytics/sentiment", q=q, interval=interval, tz=tz, top=50)
        assert body["basis"] == {"method": "documents", "exact": True}
        ref = _reference_series(docs, interval, tz, detail=False)
        assert {p["platform"] for p in body["platforms"]} == set(ref)
        for p in body["platforms"]:
            assert p["documents"] == sum(r["documents"] for r in ref[p["platform"]].values())
            _same_as_reference(p["buckets"], ref[p["platform"]], detail=False)
    share = get(gw, "/v1/analytics/negative-share", q=q, min_documents=1, top=200)["platforms"]
    whole = _reference_series(docs, None, "UTC", detail=False)
    assert {r["platform"]: (r["documents"], r["negative"]) for r in share} == \
        {p: (c[None]["documents"], c[None]["negative"]) for p, c in whole.items()}
    # one platform's trend (verdicts, rumour mentions) counted from the documents: another time zone
    platform = docs[0]["platforms"][0]
    all_of_it = [h["_source"] for h in corpus.es.search(
        index=corpus.indices.read_alias, size=1000, query={"term": {"platforms": platform}})["hits"]["hits"]]
    trend = get(gw, f"/v1/platforms/{platform}/sentiment", interval="day", tz="UTC")
    assert trend["basis"]["method"] == "documents"
    _same_as_reference(trend["buckets"], _reference_series(all_of_it, "day", "UTC", detail=True)[platform],
                       detail=True)


def test_phrase_counts_bound_the_matches_of_a_text_query(corpus):
    """The bound that lets the documents path skip its count is never below the true count."""
    from services.gateway.queries import required_phrases, text_query
    from services.gateway.sentiment_view import PhraseCounts

    counts = PhraseCounts()
    for q in ("催收", "催收电话", "提现", "客服 提现", "拍拍贷 催收", "电话催收", "很好用"):
        phrases = required_phrases(q)
        assert phrases, q
        matching = int(corpus.es.count(index=corpus.indices.read_alias, query=text_query(q))["count"])
        bound = counts.bound(corpus.es, corpus.indices.read_alias, phrases)
        assert bound >= matching, (q, bound, matching)
        assert counts.bound(corpus.es, corpus.indices.read_alias, phrases) == bound  # cached
    assert counts.bound(corpus.es, corpus.indices.read_alias, ["催收"]) == \
        int(corpus.es.count(index=corpus.indices.read_alias, query=text_query("催收"))["count"])  # no title has it
    # without a bound (the counts fail, or operators) the gateway counts the matches first
    from services.gateway.queries import SearchFilters
    from services.gateway.sentiment_view import _surely_few

    assert _surely_few(corpus.es, corpus.indices.read_alias, SearchFilters(q="催收"))
    assert not _surely_few(corpus.es, f"{corpus.indices.prefix}-missing", SearchFilters(q="催收"))
    assert not _surely_few(corpus.es, corpus.indices.read_alias, SearchFilters(q="催收 | 跑路"))
