"""Public widgets over the real pipeline: score withheld or shown, escaping, URLs from the configured
base URL (not the Host header), caching headers and 304, languages, and an Elasticsearch outage."""

from __future__ import annotations

import re

import httpx
import pytest

from services.gateway.app import create_app
from tests.integration.helpers import free_port
from tests.integration.scored_corpus import XSS_TEXTS, hostile_reviews, run_corpus

pytestmark = pytest.mark.integration
BASE = "https://widgets.trustscope.test"
PLATFORM = "alipay"


@pytest.fixture()
def corpus(settings, rclient, es, stages, pipeline):
    return run_corpus(settings, rclient, es, stages, pipeline, extra=hostile_reviews(PLATFORM))


def test_widgets_end_to_end(settings, corpus, live_server, es, rclient):
    gw_settings = settings.model_copy(update={"public_base_url": BASE, "score_min_verified": 5})
    # the platform replies to its newest verified review (trustscope.replies, as the platform key does)
    from trustscope.replies import ReplyIn, ReplyStore

    newest = es.search(index=f"{settings.es_index_prefix}-docs", size=1, sort=[{"created_at": "desc"}],
                       query={"bool": {"filter": [{"term": {"platforms": PLATFORM}},
                                                  {"term": {"integrity.verdict": "verified"}}]}})["hits"]["hits"][0]
    ReplyStore(rclient, settings.stream_prefix).put(PLATFORM, newest["_id"], ReplyIn(text="<b>感谢反馈</b>已处理"), "k1")
    with live_server(create_app(gw_settings)) as server, httpx.Client(base_url=server.url, timeout=30) as c:
        score = c.get(f"/v1/platforms/{PLATFORM}/score").json()
        assert score["status"] == "ok" and score["verified"] >= 5 and score["verified_score"] is not None
        assert score["stars"] == round(score["verified_score"] * 2) / 2
        assert sum(score["distribution"].values()) == score["verified"]

        card = c.get(f"/widget/{PLATFORM}", params={"lang": "en"}, headers={"Host": "evil.example"})
        assert card.status_code == 200 and card.headers["content-type"].startswith("text/html")
        body = card.text
        assert "evil.example" not in body and f"{BASE}/console/" in body
        assert "default-src 'none'" in card.headers["content-security-policy"]
        assert "stale-while-revalidate" in card.headers["cache-control"]
        assert "stale-if-error" in card.headers["cache-control"]
        assert "Verified score" in body and "How is this computed" in body
        assert '"@type":"AggregateRating"' in body and f'"ratingCount":{score["verified"]}' in body
        # hostile texts are escaped: no live tag from any of them
        for text in XSS_TEXTS:
            assert text not in body
        assert "<script>alert" not in body and "<img src=x" not in body and "<svg onload" not in body
        assert "&lt;script&gt;alert(&quot;xss-script&quot;)&lt;/script&gt;" in body
        # no script can run in the card at all
        scripts = re.findall(r"<script[^>]*>", body)
        assert scripts == ['<script type="application/ld+json">']

        again = c.get(f"/widget/{PLATFORM}", params={"lang": "en"},
                      headers={"If-None-Match": card.headers["etag"]})
        assert again.status_code == 304 and again.content == b""

        zh = c.get(f"/widget/{PLATFORM}", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
        assert "经核验评分" in zh.text and "Accept-Language" in zh.headers["vary"]
        en = c.get(f"/widget/{PLATFORM}", headers={"Accept-Language": "en-GB,en;q=0.9"})
        assert "Verified score" in en.text

        loader = c.get(f"/widget/{PLATFORM}.js", headers={"Host": "evil.example"})
        assert loader.status_code == 200 and f'"{BASE}/widget/{PLATFORM}"' in loader.text
        assert "evil.example" not in loader.text
        component = c.get("/widget/v1/trustscope-score.js", headers={"Host": "evil.example"})
        assert component.status_code == 200 and f'var BASE = "{BASE}"' in component.text
        assert "evil.example" not in component.text

        badge = c.get(f"/widget/{PLATFORM}/badge.svg", params={"lang": "en"})
        assert badge.headers["content-type"].startswith("image/svg+xml")
        assert f'{score["verified_score"]:.1f} ★ ({score["verified"]})' in badge.text

        data = c.get(f"/v1/widgets/{PLATFORM}", params={"lang": "en"}).json()
        assert data["links"]["page"].startswith(BASE + "/") and data["reviews"]
        assert all(r["id"] and r["text"] for r in data["reviews"])
        replied = [r for r in data["reviews"] if r["replies"]]
        assert [r["id"] for r in replied] == [newest["_id"]]
        assert replied[0]["replies"][0]["text"] == "<b>感谢反馈</b>已处理"
        assert "&lt;b&gt;感谢反馈&lt;/b&gt;已处理" in body and "Reply from the platform" in body
        # the first answer comes from the app, the second from the edge cache: the same bytes and headers
        first = c.get(f"/v1/widgets/{PLATFORM}", params={"lang": "zh"}, headers={"Origin": "https://shop.example"})
        second = c.get(f"/v1/widgets/{PLATFORM}", params={"lang": "zh"}, headers={"Origin": "https://shop.example"})
        assert first.content == second.content and first.headers["etag"] == second.headers["etag"]
        for r in (first, second):
            assert r.headers["access-control-allow-origin"] == "*"
            assert r.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
            assert r.headers["content-type"] == "application/json" and r.headers["x-request-id"]
        assert c.get(f"/widget/{PLATFORM}", params={"lang": "x" * 30}).status_code == 422
        assert c.get("/widget/no-such-platform").status_code == 404
        assert c.get("/widget/no-such-platform").json()["error"] == "unknown_platform"

    # the same Redis, but Elasticsearch unreachable: seen platforms still answer 200 from the
    # last good payload; the score (maintained in Redis) needs no Elasticsearch at all
    down = gw_settings.model_copy(update={"es_url": f"http://127.0.0.1:{free_port()}"})
    with live_server(create_app(down)) as server, httpx.Client(base_url=server.url, timeout=30) as c:
        for _ in range(3):
            r = c.get(f"/widget/{PLATFORM}", params={"lang": "en"})
            assert r.status_code == 200 and "Verified score" in r.text
        assert c.get(f"/v1/platforms/{PLATFORM}/score").status_code == 200
        unseen = c.get("/v1/widgets/ppdai", params={"lang": "en"})
        assert unseen.status_code == 200 and unseen.json()["reviews_available"] is False


def test_score_withheld_below_minimum_and_no_json_ld(settings, corpus, live_server):
    strict = settings.model_copy(update={"public_base_url": BASE, "score_min_verified": 10_000})
    with live_server(create_app(strict)) as server, httpx.Client(base_url=server.url, timeout=30) as c:
        score = c.get(f"/v1/platforms/{PLATFORM}/score").json()
        assert score["status"] == "insufficient" and score["verified_score"] is None
        assert score["message"] == "not enough verified reviews yet" and score["verified"] > 0
        card = c.get(f"/widget/{PLATFORM}", params={"lang": "en"}).text
        assert "Not enough verified reviews yet" in card and "application/ld+json" not in card
        assert "3.5" not in card.split("<details>")[0]  # the prior is never shown as a score
        badge = c.get(f"/widget/{PLATFORM}/badge.svg", params={"lang": "en"}).text
        assert "not enough reviews" in badge


def test_simultaneous_stale_misses_search_once(settings, rclient):
    """Eight gateway processes (WidgetData instances) find the same stale payload in Redis at once:
    one takes the lock and searches, the others serve the previous payload meanwhile."""
    import threading
    import time

    import orjson

    from services.gateway.widget import WidgetData
    from trustscope.platforms import Platform

    class CountingSearch:  # stands in for Elasticsearch: counts searches, answers slowly
        calls = 0

        def options(self, **_kw):
            return self

        def search(self, **_kw):
            type(self).calls += 1
            time.sleep(0.3)
            return type("R", (), {"body": {"hits": {"hits": []}}})()

    platform = Platform(id="p-stale", name_zh="平台", name_en="Platform")
    seed = WidgetData(rclient, CountingSearch(), "unused", settings.stream_prefix, 1)
    stale = {**seed.build(platform, []), "built_at": time.time() - 3600}
    rclient.set(seed.last_key(platform.id), orjson.dumps(stale))
    results = []
    workers = [WidgetData(rclient, CountingSearch(), "unused", settings.stream_prefix, 1) for _ in range(8)]
    threads = [threading.Thread(target=lambda w=w: results.append(w.payload(platform))) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert CountingSearch.calls == 1 and len(results) == 8
    assert sum(r.data["built_at"] > stale["built_at"] for r in results) == 1  # the one that rebuilt
