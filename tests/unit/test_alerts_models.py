"""Pure parts of alerting and threads: the negative-binomial tail, the baseline's behaviour, the
severity formula, text normalisation for MinHash, watchlists, channel signatures, thread fields."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timezone

import pytest

from trustscope.alerts.channels import dingtalk_sign, feishu_sign, webhook_signature
from trustscope.alerts.models import Alert, Story
from trustscope.alerts.rates import Baseline, nbinom_sf
from trustscope.alerts.severity import level, severity
from trustscope.alerts.stories import normalise, shingles
from trustscope.alerts.subscriptions import Schedule, SubscriptionIn, Watchlist
from trustscope.importer import map_record
from trustscope.pollers.mapping import apply_mapping
from trustscope.schemas import DocumentIn


@pytest.mark.parametrize("k,r,p", [(1, 0.5, 0.9), (4, 1.5, 0.99), (30, 200.0, 0.5), (300, 50.0, 0.3), (5, 3.0, 0.999)])
def test_negative_binomial_tail_matches_scipy(k, r, p):
    stats = pytest.importorskip("scipy.stats")
    assert nbinom_sf(k, r, p) == pytest.approx(stats.nbinom.sf(k - 1, r, p), rel=1e-6, abs=1e-300)


def test_baseline_small_platform_first_wave_vs_busy_platform():
    quiet = Baseline(a=0.5, b=43_200)  # the prior alone
    busy = Baseline(a=0.5 + 2000 * 7, b=43_200 + 7 * 86_400)  # ~2,000 signal posts a day for a week
    assert quiet.surprise(4, 600) > 4 > busy.surprise(4, 600)
    assert busy.expected(600) == pytest.approx(13.2, rel=0.05)
    assert busy.surprise(60, 600) > 4  # a real surge still stands out
    assert quiet.tail(0, 600) == 1.0


def _story(**kw) -> Story:
    base = dict(id="s", platform="p", headline_id="h", headline="x", first_seen=0.0, last_seen=0.0)
    return Story(**{**base, **kw})


def test_severity_formula_and_levels():
    small = _story(volume=4, authors=3, velocity_per_min=0.4, rumour_max=0.6)
    big = _story(volume=1000, authors=500, velocity_per_min=100, rumour_max=1.0)
    assert severity(big, "rumour", 10) == 100.0
    assert severity(_story(), "rumour", 0) == 0.0
    s = severity(small, "rumour", 5)
    assert 20 < s < 40 and level(s) in {"low", "medium"}
    assert severity(_story(negative_share=1.0), "negative", 0) == 30.0
    assert [level(v) for v in (0, 29.9, 30, 50, 70, 100)] == ["low", "low", "medium", "high", "critical", "critical"]


def test_normalisation_removes_links_mentions_emoji_and_punctuation():
    assert normalise("转发 //@张三: 借呗 跑路了！！[泪] https://t.cn/x @李四") == "转发借呗跑路了"
    assert shingles("借呗跑路", 2) == {s.encode() for s in ("借呗", "呗跑", "跑路")}
    assert shingles("！！", 2) == set()


def _alert(**kw) -> Alert:
    now = datetime.now(timezone.utc)
    base = dict(id="a", story_id="a", platform="jiebei", kind="rumour", severity=55, level="high", headline="借呗跑路了",
                headline_id="h", terms=["跑路"], volume=5, reposts=0, authors=4, velocity_per_min=1, rumour_prob=0.8,
                negative_share=0.5, surprise=5, baseline_per_window=0.1, first_seen=now, last_seen=now,
                opened_at=now, updated_at=now)
    return Alert(**{**base, **kw})


def test_watchlist_matching():
    assert Watchlist().matches(_alert())
    assert Watchlist(platforms=["JIEBEI"]).matches(_alert())
    assert not Watchlist(platforms=["alipay"]).matches(_alert())
    assert not Watchlist(min_severity=60).matches(_alert())
    assert Watchlist(keywords=["暴雷", "跑路"]).matches(_alert())
    assert not Watchlist(keywords=["暴雷"]).matches(_alert())
    assert not Watchlist(kinds=["negative"]).matches(_alert())
    with pytest.raises(ValueError):
        Schedule(mode="digest")
    with pytest.raises(ValueError):
        SubscriptionIn.model_validate({"name": "x", "channel": {"type": "webhook", "url": "http://h", "secret": "short"}})


def test_channel_signatures():
    body = b'{"a":1}'
    assert webhook_signature("k" * 16, 1700000000, body) == "v1=" + hmac.new(
        b"k" * 16, b"1700000000." + body, hashlib.sha256).hexdigest()
    mac = hmac.new(b"SEC1", b"1700000000000\nSEC1", hashlib.sha256).digest()
    assert dingtalk_sign("SEC1", 1700000000000) == base64.b64encode(mac).decode().replace("+", "%2B").replace(
        "/", "%2F").replace("=", "%3D")
    assert feishu_sign("s", 1700000000) == base64.b64encode(
        hmac.new(b"1700000000\ns", b"", hashlib.sha256).digest()).decode()


def test_thread_fields_in_the_document_model_import_and_connector():
    reply = DocumentIn(kind="social", source="weibo", source_id="2", text="同问", created_at="2026-11-01T00:00:00Z",
                       parent_id="1").to_document([])
    assert reply.parent_id == reply.root_id and reply.depth == 1
    deep = DocumentIn(kind="social", source="weibo", source_id="3", text="同问", created_at="2026-11-01T00:00:00Z",
                      parent_id="2", root_id="1", depth=2).to_document([])
    assert deep.root_id == reply.parent_id and deep.parent_id == reply.id and deep.depth == 2
    original = DocumentIn(kind="social", source="weibo", source_id="1", text="x", created_at="2026-11-01T00:00:00Z")
    assert original.to_document([]).root_id is None
    with pytest.raises(ValueError, match="depth"):
        DocumentIn(kind="social", source="weibo", source_id="4", text="x", created_at="2026-11-01", depth=1)
    with pytest.raises(ValueError, match="itself"):
        DocumentIn(kind="social", source="weibo", source_id="4", text="x", created_at="2026-11-01", parent_id="4")
    assert map_record({"reply_to": "9", "depth": "2"}, {"parent_id": "reply_to"}, {}) == {"depth": 2, "parent_id": "9"}
    mapped = apply_mapping({"id": 7, "body": "x", "t": "2026-11-01", "re": 5},
                           {"source_id": ["id"], "text": ["body"], "created_at": ["t"], "parent_id": ["re"]})
    assert mapped["parent_id"] == "5"
