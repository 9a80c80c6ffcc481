"""What a story's burst counts, on a real Redis (the seed-15 noise page, docs/alerts.md "What a burst
counts"): posts without the signal that join a complaint story do not count in its burst (the
baseline counts only signal posts); an unrelated text that shares a few characters with one of a big
story's many posts starts its own story instead of joining it; the same claim in other words still
joins; a genuine surge of signal posts still pages."""

from __future__ import annotations

import pytest

from trustscope.alerts.config import AlertConfig
from trustscope.alerts.engine import AlertEngine
from trustscope.alerts.models import LEXICON_ENGINE, Post

pytestmark = pytest.mark.integration

T0 = 1_790_000_000.0
HOUR = 3600.0
OPENERS = ["", "说实话，", "第一次用，", "朋友推荐的，", "用了半年，", "总的来说，"]
COMPLAINT = "{}微信支付提现困难，钱一直不到账（{}）"  # the replay's synthetic complaint, lexicon P 0.63
THREAD_ROOT = "微信支付 #震惊君夜话#你第一次去电影院看的电影是____________"  # an ordinary social post
REPLIES = ["泰坦尼克号", "狮子王", "阿凡达", "画皮(老版)", "霸王别姬", "妈妈再爱我一次", "头文字D", "侏罗纪公园"]


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def review(i: int, at: float, opener: str | None = None, **kw) -> Post:
    text = COMPLAINT.format(OPENERS[i % len(OPENERS)] if opener is None else opener, 40_000 + 7 * i)
    fields = dict(rumour=0.6321, rumour_terms=["提现困难"], rumour_engine=LEXICON_ENGINE, negative=True,
                  prob_positive=0.1)
    fields.update(kw)
    return Post(id=f"r{i}", platforms=["wechat-pay"], author_id=f"ru{i}", text=text, created_at=at,
                ingested_at=at, **fields)


def make(rclient, prefix) -> tuple[AlertEngine, Clock]:
    clock = Clock(T0)
    return AlertEngine(rclient, AlertConfig(prefix=prefix), clock=clock), clock


def _complaint_story(eng: AlertEngine, clock: Clock, n: int, gap_s: float, quiet: bool = True) -> str:
    """``n`` ordinary complaints of one template, ``gap_s`` apart: one long-lived review story."""
    for i in range(n):
        clock.t = T0 + gap_s * i + 1
        events = eng.process([review(i, T0 + gap_s * i)])
        assert events == [] or not quiet
    sid = eng.stories.thread_stories("r0")["wechat-pay"]
    assert eng.stories.get(sid).volume == n  # every complaint joined it
    return sid


def test_posts_without_the_signal_that_join_a_story_do_not_count_in_its_burst(rclient, prefix):
    """A thread of ordinary replies (neither rumour-like nor negative) under one complaint: 16 posts in
    the window, but 1 rumour-like one. Counted as 16 against the platform's rate of rumour-like posts,
    the story 'burst' at a surprise far past any bar and paged (the old count)."""
    eng, clock = make(rclient, prefix)
    sid = _complaint_story(eng, clock, 48, HOUR / 2)  # one complaint every half hour for a day
    t1 = T0 + 24 * HOUR
    clock.t = t1 + 1
    assert eng.process([review(100, t1)]) == []
    events = []
    for j in range(15):
        at = t1 + 20 * (j + 1)
        clock.t = at + 1
        events += eng.process([Post(id=f"c{j}", platforms=[], author_id=f"cu{j}", text=REPLIES[j % len(REPLIES)],
                                    created_at=at, ingested_at=at, root_id="r100", parent_id="r100",
                                    rumour=0.2, rumour_engine="rumour-stack-v1")])
    story = eng.stories.get(sid)
    assert story.window_posts == 16 and story.rumour_prob == pytest.approx(0.6321)  # a rumour-like review story ...
    assert events == [] and eng.store.get(sid) is None  # ... whose window holds one rumour-like post: no burst
    assert story.window_rumour == 1 and story.window_negative == 1
    assert eng.watched() == []


def test_an_unrelated_text_sharing_a_few_characters_with_a_big_storys_posts_starts_its_own_story(rclient, prefix):
    """An LSH vote is one band shared with any of a story's recent posts; a 300-post complaint story has
    so many different band values that a social post sharing only the platform name and '第一次' with
    some of them collided with one (seed 15). The post must resemble the story's headline to join."""
    eng, clock = make(rclient, prefix)
    sid = _complaint_story(eng, clock, 300, 10.0, quiet=False)  # (it pages: not the point here)
    at = T0 + 3000.0
    clock.t = at + 1
    eng.process([Post(id="s0", platforms=["wechat-pay"], author_id="su0", text=THREAD_ROOT, created_at=at,
                      ingested_at=at, rumour=0.16, rumour_engine="rumour-stack-v1")])
    joined = eng.stories.thread_stories("s0")["wechat-pay"]
    assert joined != sid
    assert eng.stories.get(sid).volume == 300 and eng.stories.get(joined).headline_id == "s0"
    # its replies follow it, not the complaint story
    for j in range(5):
        eng.process([Post(id=f"s{j + 1}", platforms=[], author_id=f"su{j + 1}", text=REPLIES[j], created_at=at + j + 1,
                          ingested_at=at + j + 1, root_id="s0", parent_id="s0", rumour=0.3,
                          rumour_engine="rumour-stack-v1")])
    assert eng.stories.get(joined).volume == 6 and eng.stories.get(sid).volume == 300


def test_copies_and_the_same_claim_in_other_words_still_join(rclient, prefix):
    eng, _ = make(rclient, prefix)
    original = "网传花呗资金链断裂即将暴雷，老板已经跑路，身边好几个朋友的钱都取不出来了，大家赶紧提现"
    first = eng.stories.add(Post(id="h0", platforms=["huabei"], author_id="h", text=original, created_at=T0,
                                 rumour=0.9, rumour_terms=["暴雷", "跑路"]), signal=True)[0].story.id
    copy = eng.stories.add(Post(id="h1", platforms=["huabei"], author_id="h1", created_at=T0 + 5,
                                text="天哪是真的吗？？我也有钱在里面//" + original, rumour=0.8), signal=True)
    assert copy[0].story.id == first and copy[0].via == "lsh"
    # other words, the same two claims about the same platform: the claim vote needs no text likeness
    other = eng.stories.add(Post(id="h2", platforms=["huabei"], author_id="h2", created_at=T0 + 9,
                                 text="花呗跑路？据说下周就要暴雷", rumour=0.9, rumour_terms=["暴雷", "跑路"]),
                            signal=True)
    assert other[0].story.id == first and other[0].via == "lsh"
    assert eng.stories.similarity(eng.stories.signature("花呗跑路？据说下周就要暴雷"),
                                  eng.stories.signature(original)) < eng.cfg.join_min_similarity


def test_a_genuine_surge_of_complaints_still_bursts_against_the_same_baseline(rclient, prefix):
    """The same day of ordinary complaints, then 12 people in five minutes: every post carries the
    signal, so the count is what it was before the change and the story pages."""
    eng, clock = make(rclient, prefix)
    sid = _complaint_story(eng, clock, 48, HOUR / 2)
    t1 = T0 + 24 * HOUR
    opened = []
    for j in range(12):
        at = t1 + 25 * j
        clock.t = at + 1
        opened += [e for e in eng.process([review(200 + j, at)]) if e.type == "alert.opened"]
    assert len(opened) == 1 and opened[0].alert.id == sid and opened[0].alert.kind == "rumour"
    assert opened[0].alert.surprise >= -__import__("math").log10(eng.cfg.alpha)
