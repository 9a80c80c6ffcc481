"""Early warnings and story re-scoring on a real Redis: a model-scored rumour-like first post opens
an alert at once (phase early, severity capped), a second one on the same platform soon after does
not page (the platform's own rate of such stories), lexicon scores never early-warn, an early warning
that bursts is updated and told once, one whose story re-scores low is retracted, and the shipped
rumour model re-scores a story with its thread."""

from __future__ import annotations

import pytest

from trustscope.alerts.config import AlertConfig
from trustscope.alerts.engine import AlertEngine
from trustscope.alerts.models import LEXICON_ENGINE, Post
from trustscope.alerts.rescore import StoryRescorer, due, story_event

pytestmark = pytest.mark.integration

T0 = 1_790_000_000.0
MODEL = "rumour-stack-v1"
CLAIM = "紧急扩散！{}已经暴雷，老板跑路，所有用户的钱都取不出来了，赶紧告诉身边的人"
OTHER = "{}内部人士爆料：下周起全面停止兑付，监管已经进场，消息绝对可靠"


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def post(pid: str, text: str, platform: str | None, at: float, author: str | None = None,
         engine: str | None = MODEL, **kw) -> Post:
    return Post(id=pid, platforms=[platform] if platform else [], author_id=author or f"a-{pid}", text=text,
                created_at=at, ingested_at=at, rumour_engine=engine, **kw)


class FixedModel:
    """Stands in for the rumour model's predict_proba: one probability for every story."""

    def __init__(self, p: float) -> None:
        self.p = p
        self.calls = 0

    def predict_proba(self, events):
        import numpy as np

        self.calls += 1
        return np.full(len(events), self.p)


class Scorer:
    def __init__(self, model) -> None:
        self.model = model


def make(rclient, prefix, model=None, **cfg) -> tuple[AlertEngine, Clock]:
    clock = Clock(T0)
    rescorer = StoryRescorer(Scorer(model)) if model is not None else None
    return AlertEngine(rclient, AlertConfig(prefix=prefix, **cfg), clock=clock, rescorer=rescorer), clock


def test_a_rumour_like_first_post_opens_an_early_warning_and_a_second_one_soon_after_does_not(rclient, prefix):
    eng, clock = make(rclient, prefix)
    events = eng.process([post("e1", CLAIM.format("某宝理财"), "alipay", T0, rumour=0.93)])
    assert [e.type for e in events] == ["alert.opened"]
    alert = events[0].alert
    assert alert.phase == "early" and alert.kind == "rumour" and events[0].notify
    assert alert.volume == 1 and alert.severity <= eng.cfg.early_max_severity and alert.level in ("low", "medium")
    assert alert.surprise >= 3  # a new rumour-like story is improbable on a platform that had none
    # another rumour-like story on the same platform twenty minutes later is not improbable any more
    clock.t = T0 + 1200
    assert eng.process([post("e2", OTHER.format("某宝理财"), "alipay", T0 + 1200, rumour=0.95)]) == []
    # ... but on another platform it is
    got = eng.process([post("e3", OTHER.format("某信支付"), "wechat-pay", T0 + 1200, rumour=0.95)])
    assert [e.alert.phase for e in got] == ["early"]


def test_lexicon_scores_and_low_model_scores_never_early_warn(rclient, prefix):
    eng, _ = make(rclient, prefix)
    assert eng.process([post("l1", CLAIM.format("借呗"), "jiebei", T0, rumour=0.99, engine=LEXICON_ENGINE)]) == []
    assert eng.process([post("m1", CLAIM.format("花呗"), "huabei", T0, rumour=0.6)]) == []
    off, _ = make(rclient, prefix + "x", early_enabled=False)
    assert off.process([post("m2", CLAIM.format("花呗"), "huabei", T0, rumour=0.99)]) == []


def test_an_early_warning_that_bursts_is_updated_and_told_once(rclient, prefix):
    eng, clock = make(rclient, prefix, model=FixedModel(0.97))
    opened = eng.process([post("b0", CLAIM.format("微粒贷"), "weilidai", T0, rumour=0.95)])
    assert opened[0].alert.phase == "early"
    events = []
    for i in range(1, 8):  # each reply scored by the model on its own, as the integrity stage does
        clock.t = T0 + 15 * i
        events += eng.process([post(f"b{i}", "真的假的？赶紧去提现", None, T0 + 15 * i, author=f"u{i}",
                                    root_id="b0", parent_id="b0", rumour=0.8)])
    assert all(e.alert.id == opened[0].alert.id for e in events)
    assert not any(e.type == "alert.opened" for e in events)
    told = [e for e in events if e.notify]
    assert len(told) == 1 and told[0].alert.phase == "burst" and told[0].type == "alert.updated"
    final = eng.store.get(opened[0].alert.id)
    assert final.phase == "burst" and final.volume == 8 and final.rumour_prob == pytest.approx(0.97)


def test_an_early_warning_whose_story_rescores_low_is_retracted(rclient, prefix):
    model = FixedModel(0.1)
    eng, clock = make(rclient, prefix, model=model)
    opened = eng.process([post("r0", CLAIM.format("京东金融"), "jd-finance", T0, rumour=0.95)])
    assert opened[0].alert.phase == "early"
    clock.t = T0 + 30
    got = eng.process([post("r1", "已辟谣，官方说是假的", None, T0 + 30, root_id="r0", parent_id="r0")])
    assert model.calls == 1
    assert [e.type for e in got] == ["alert.resolved"] and not got[0].notify
    alert = eng.store.get(opened[0].alert.id)
    assert alert.status == "resolved" and alert.resolved_by == "alerter"
    assert "re-scored" in alert.history[-1]["note"]


def test_rescoring_points_are_logarithmic_in_story_size():
    from trustscope.alerts.models import Story

    cfg = AlertConfig()

    def story(volume: int, rescored: int) -> Story:
        return Story(id="s", platform="p", headline_id="h", headline="x", first_seen=0, last_seen=0,
                     volume=volume, model_headline=True, rescored_volume=rescored)

    assert due(story(2, 0), cfg) and not due(story(2, 2), cfg) and not due(story(4, 3), cfg)
    assert due(story(5, 3), cfg) and not due(story(200, 144), cfg) and due(story(244, 144), cfg)
    points = [v for v in range(1, 2001) if due(story(v, max([0] + [w for w in range(v) if due(story(w, 0), cfg)])), cfg)]
    assert len(points) < 40
    assert not due(Story(id="s", platform="p", headline_id="h", headline="x", first_seen=0, last_seen=0, volume=9), cfg)


def test_the_shipped_model_rescores_a_story_with_its_thread(rclient, prefix):
    from trustscope.rumour.scorer import RumourScorer

    scorer = RumourScorer.from_dir(None)
    if scorer.model is None:
        pytest.skip("no rumour model installed (models/trustscope-rumour-zh)")
    eng = AlertEngine(rclient, AlertConfig(prefix=prefix), clock=Clock(T0), rescorer=StoryRescorer(scorer))
    head = CLAIM.format("某宝理财")
    eng.process([post("s0", head, "alipay", T0, rumour=0.9)])
    eng.process([post("s1", "求证，真的假的？", None, T0 + 60, author="u1", root_id="s0", parent_id="s0")])
    story = eng.stories.get(eng.stories.thread_stories("s0")["alipay"])
    assert story.rescored_volume == 2 and story.rumour_story is not None and 0.0 <= story.rumour_story <= 1.0
    ev = story_event(eng.stories.thread_posts(story.id))
    assert ev.text == head and [r.text for r in ev.reposts] == ["求证，真的假的？"] and ev.reposts[0].time == T0 + 60


def test_a_rumour_like_burst_on_a_platform_where_the_model_often_errs_does_not_page_as_rumour(rclient, prefix):
    from trustscope.alerts.rates import EARLY

    eng, clock = make(rclient, prefix, model=FixedModel(0.9))
    for i in range(6):  # six rumour-like stories in the last days: one more is not news there
        eng.rates.observe("alipay", EARLY, T0 - 86_400 * (i + 1) / 2)
    events = []
    for i in range(10):
        clock.t = T0 + 10 * i
        events += eng.process([post(f"g{i}", CLAIM.format("某宝理财") if i == 0 else "转发", None if i else "alipay",
                                    T0 + 10 * i, author=f"g{i}", rumour=0.9, negative=True,
                                    root_id="g0" if i else None, parent_id="g0" if i else None)])
    assert events and {e.alert.kind for e in events} == {"negative"}  # its negative burst still alerts
    assert all(e.alert.phase == "burst" for e in events)


def test_one_batch_groups_its_own_copies_and_replies_like_one_by_one(rclient, prefix):
    eng, _ = make(rclient, prefix)
    text = CLAIM.format("某宝理财")
    batch = [post("k0", text, "alipay", T0, engine=None), post("k1", "转发 " + text, "alipay", T0 + 1, engine=None),
             post("k2", "真的假的", None, T0 + 2, root_id="k0", parent_id="k0", engine=None),
             post("k3", "同问", None, T0 + 3, root_id="k0", parent_id="k2", engine=None),
             post("k4", "某宝理财的客服今天态度很好，还款也很方便", "alipay", T0 + 4, engine=None)]
    eng.process(batch)
    stories = {p.id: eng.stories.thread_stories(p.id).get("alipay") for p in batch}
    assert stories["k0"] == stories["k1"] == stories["k2"] == stories["k3"] != stories["k4"]
    assert eng.stories.get(stories["k0"]).volume == 4
    # the batch's LSH entries were written at its end: a later copy finds the story
    eng.process([post("k5", text + "！！", "alipay", T0 + 60, engine=None)])
    assert eng.stories.thread_stories("k5")["alipay"] == stories["k0"]


def test_model_scored_posts_joining_a_review_story_do_not_lend_it_the_models_score(rclient, prefix):
    """A review story (lexicon headline) is judged by its lexicon scores only: social copies that join
    it by near-duplicate text carry the model's P(rumour), which would make it 'rumour-like' at the
    lexicon's 0.5 and burst against the platform's rumour rate (seen in the noise replay)."""
    eng, clock = make(rclient, prefix)
    review = "在微信支付上送货的小哥服务态度特别好，煎饼真的很好吃，豆腐脑一般，赞赞赞"
    events = []
    for i in range(10):
        clock.t = T0 + 20 * i
        engine = LEXICON_ENGINE if i < 2 else MODEL
        events += eng.process([post(f"v{i}", review + ("//转发" * (i % 3)), "wechat-pay", T0 + 20 * i, author=f"w{i}",
                                    engine=engine, rumour=0.0 if i < 2 else 0.8)])
    assert events == []
    story = eng.stories.get(eng.stories.thread_stories("v0")["wechat-pay"])
    assert story.volume == 10 and not story.model_headline
    assert story.rumour_max == pytest.approx(0.8) and story.lexicon_max == 0.0 and story.rumour_prob == 0.0


def test_a_retracted_early_warning_is_not_reopened_by_its_burst_while_it_rescores_low(rclient, prefix):
    model = FixedModel(0.1)
    eng, clock = make(rclient, prefix, model=model)
    opened = eng.process([post("x0", CLAIM.format("捷信"), "home-credit", T0, rumour=0.95)])
    assert opened[0].alert.phase == "early"
    events = []
    for i in range(1, 12):  # the thread says it is no rumour, then the story spreads fast
        clock.t = T0 + 10 * i
        events += eng.process([post(f"x{i}", "已辟谣，官方说是假的", None, T0 + 10 * i, author=f"z{i}",
                                    root_id="x0", parent_id="x0")])
    assert [e.type for e in events] == ["alert.resolved"]
    assert eng.store.get(opened[0].alert.id).status == "resolved"
    # once the thread makes it rumour-like again, the grown burst does reopen it
    model.p = 0.9
    for i in range(12, 16):
        clock.t = T0 + 10 * i
        events += eng.process([post(f"x{i}", "真的假的，赶紧提现", None, T0 + 10 * i, author=f"z{i}",
                                    root_id="x0", parent_id="x0", rumour=0.8)])
    assert "alert.reopened" in [e.type for e in events]
