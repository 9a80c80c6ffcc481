"""RSS/Atom entries to documents: ids, bodies with HTML removed, dates, and skipped entries with reasons."""

from pathlib import Path

import pytest
from structlog.testing import capture_logs

from trustscope.pollers.config import parse_config
from trustscope.pollers.feed import FeedError, parse_feed
from trustscope.schemas import MAX_TEXT_CHARS

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "pollers"


def feed_source(**overrides):
    src = {"name": "caixun", "type": "feed", "url": "http://news.test.invalid/rss", **overrides}
    return parse_config({"sources": [src]}).sources[0]


def test_rss_items_and_skips():
    with capture_logs() as logs:
        parsed = parse_feed((FIXTURES / "finance_news.rss.xml").read_bytes(), feed_source(platforms=["alipay"]))
    ids = [i.source_id for i in parsed.items]
    assert ids == ["caixun-20261120-001", "caixun-20261121-002", "caixun-20261122-003",
                   "http://news.test.invalid/fintech/005.html"]  # no guid: the link is the id
    first = parsed.items[0]
    assert first.kind.value == "news" and first.source == "caixun" and first.platforms == ["alipay"]
    assert "<" not in first.text and "track(" not in first.text  # tags and scripts gone
    assert first.text == "记者获悉,某消费金融公司将借款年化利率下调至 18% 以内。\n业内人士称,此举意在响应监管要求 & 降低用户负担。"
    assert first.created_at.isoformat() == "2026-11-20T00:30:00+00:00"  # +08:00 converted to UTC
    assert first.author.id == "财讯记者 王晓"
    assert str(first.url) == "http://news.test.invalid/fintech/001.html"
    # content:encoded is preferred to the shorter description
    assert parsed.items[2].text.startswith("网传暴雷消息不实\n近日网络流传")
    reasons = [(s.ref, s.reason) for s in parsed.skipped]
    assert reasons == [("caixun-nodate-004", "entry has no published or updated date"),
                       ("entry #6", "entry has neither an id/guid nor a link")]
    logged = [(e["item"], e["reason"]) for e in logs if e["event"] == "poller.item_skipped"]
    assert logged == reasons


def test_atom_entries():
    parsed = parse_feed((FIXTURES / "lending_forum.atom.xml").read_bytes(), feed_source(name="forum", kind="social"))
    assert [i.source_id for i in parsed.items] == ["tag:forum.test.invalid,2026:post-9001",
                                                   "tag:forum.test.invalid,2026:post-9002"]
    post = parsed.items[0]
    assert post.kind.value == "social" and post.source == "forum"
    assert post.title == "催收电话打到单位了,大家遇到过吗"  # escaped HTML title decoded and stripped
    assert post.text == "在某平台借了三千,逾期两天,催收直接打到公司前台。\n太离谱了!"
    assert parsed.items[1].created_at.isoformat() == "2026-11-24T02:30:00+00:00"  # published beats updated
    assert [s.reason for s in parsed.skipped] == ["entry has no text (content, summary and title are empty)"]


def test_long_article_is_clipped_and_source_name_overrides():
    body = "很长的文章。" * (MAX_TEXT_CHARS // 3)
    rss = (f'<rss version="2.0"><channel><title>t</title><item><guid>long-1</guid>'
           f'<pubDate>Mon, 23 Nov 2026 09:00:00 GMT</pubDate><description>{body}</description>'
           f'</item></channel></rss>').encode()
    item = parse_feed(rss, feed_source(source="caixun-wire")).items[0]
    assert len(item.text) <= MAX_TEXT_CHARS and item.source == "caixun-wire"


def test_relative_or_odd_links_are_dropped_not_fatal():
    rss = (b'<rss version="2.0"><channel><title>t</title><item><guid>x-1</guid><link>javascript:void(0)</link>'
           b'<pubDate>Mon, 23 Nov 2026 09:00:00 GMT</pubDate><title>\xe6\xa0\x87\xe9\xa2\x98</title></item>'
           b'</channel></rss>')
    item = parse_feed(rss, feed_source()).items[0]
    assert item.url is None and item.text == "标题"  # no body: the title is the text


def test_not_a_feed_raises():
    with pytest.raises(FeedError, match="not a readable RSS/Atom feed"):
        parse_feed(b"<html><body><h1>502 Bad Gateway</h1>", feed_source())
