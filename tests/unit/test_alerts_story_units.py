"""Pure parts of what a story's burst counts: the one definition of a signal post, the per-kind window
counts read back from a story's minute buckets, and the headline likeness that gates an LSH join."""

from __future__ import annotations

import redis

from trustscope.alerts.config import AlertConfig
from trustscope.alerts.models import Post, Story
from trustscope.alerts.rates import signal_kinds
from trustscope.alerts.stories import StoryStore

CFG = AlertConfig()


def _post(**kw) -> Post:
    return Post(id="p", platforms=["alipay"], author_id="a", text="支付宝提现困难", created_at=0.0, **kw)


def test_a_signal_post_is_what_the_baselines_count():
    assert signal_kinds(_post(rumour=0.63), CFG) == ["rumour"]
    assert signal_kinds(_post(rumour=0.49, negative=True), CFG) == ["negative"]
    assert signal_kinds(_post(rumour=0.9, negative=True), CFG) == ["rumour", "negative"]
    assert signal_kinds(_post(rumour=0.2), CFG) == []


def test_a_storys_burst_count_is_its_signal_posts_of_the_kind():
    story = Story(id="s", platform="alipay", headline_id="p", headline="h", first_seen=0, last_seen=0,
                  window_posts=18, window_rumour=3, window_negative=7)
    assert story.window_signal("rumour") == 3 and story.window_signal("negative") == 7


def test_window_counts_per_kind_from_the_minute_buckets():
    store = StoryStore(redis.Redis(), CFG)  # no round trip: only the pure reader is used
    # minutes 100..110: the window is the 10 minutes up to the newest (101..110); minute 100 is out
    win = {b"100": b"5", b"r100": b"5", b"101": b"2", b"r101": b"1", b"n101": b"2", b"110": b"3", b"n110": b"1"}
    assert store._window(win) == (5, 1, 3)
    assert store._window({b"7": b"4"}) == (4, 0, 0)  # a story written before the per-kind buckets
    assert store._window({}) == (0, 0, 0)


def test_headline_likeness_separates_copies_from_texts_that_share_a_few_characters():
    store = StoryStore(redis.Redis(), CFG)
    head = store.signature("第一次用，微信支付提现困难，钱一直不到账（38）")
    variant = store.signature("朋友推荐的，微信支付提现困难，钱一直不到账（70220）")
    unrelated = store.signature("微信支付 #震惊君夜话#你第一次去电影院看的电影是____________")
    assert store.similarity(head, variant) >= CFG.join_min_similarity
    assert store.similarity(head, unrelated) < CFG.join_min_similarity
    assert store.signature("转发微博") is None  # too short to match by text: threads only
