"""Stories and alerts on a real Redis: grouping by near-duplicate text and by thread, growth,
replay safety, the per-platform baseline (a small platform's first wave alerts, the same wave on a
busy platform does not), one alert per story, and the lifecycle."""

from __future__ import annotations

import pytest

from trustscope.alerts.config import AlertConfig
from trustscope.alerts.engine import AlertEngine
from trustscope.alerts.models import Post
from trustscope.alerts.store import TransitionError

pytestmark = pytest.mark.integration

T0 = 1_790_000_000.0
CLAIM = "听说{}已经跑路了，提现困难，大家赶紧把钱取出来"
VARIANTS = ["听说{}已经跑路了，提现困难，大家赶紧把钱取出来！！", "转：听说{}已经跑路了提现困难，大家赶紧把钱取出来",
            "听说{}已经跑路了，提现困难，大家赶紧把钱取出来吧", "【扩散】听说{}已经跑路了，提现困难，大家赶紧把钱取出来"]


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def post(pid: str, text: str, platform: str | None, at: float, author: str | None = None, **kw) -> Post:
    return Post(id=pid, platforms=[platform] if platform else [], author_id=author or f"a-{pid}", text=text,
                created_at=at, ingested_at=at, **kw)


@pytest.fixture()
def engine(rclient, prefix):
    clock = Clock(T0)
    return AlertEngine(rclient, AlertConfig(prefix=prefix), clock=clock), clock


def test_near_duplicates_and_thread_replies_form_one_growing_story(engine):
    eng, _ = engine
    first = eng.stories.add(post("p0", CLAIM.format("借呗"), "jiebei", T0, rumour=0.9), signal=True)
    assert [p.via for p in first] == ["new"]
    story_id = first[0].story.id
    for i, v in enumerate(VARIANTS):
        placed = eng.stories.add(post(f"p{i + 1}", v.format("借呗"), "jiebei", T0 + 10 * i, rumour=0.8), True)
        assert placed[0].story.id == story_id and placed[0].via == "lsh", v
    # replies name the root, not the platform, and carry none of the text
    for i in range(3):
        placed = eng.stories.add(post(f"r{i}", "[蜡烛]真的假的", None, T0 + 100 + i, root_id="p0", parent_id="p0"), False)
        assert placed[0].story.id == story_id and placed[0].via == "thread"
    # a reply to a reply (only its parent known) joins too
    assert eng.stories.add(post("rr", "同问", None, T0 + 200, parent_id="r0"), False)[0].story.id == story_id
    # an unrelated post and the same claim about another platform are other stories
    other = eng.stories.add(post("x", "借呗的额度今天提高了，还款也很方便，客服态度不错", "jiebei", T0), False)
    assert other[0].story.id != story_id
    elsewhere = eng.stories.add(post("y", CLAIM.format("借呗"), "huabei", T0, rumour=0.9), True)
    assert elsewhere[0].story.id != story_id and elsewhere[0].story.platform == "huabei"
    # a redelivered post is not counted twice
    assert eng.stories.add(post("p1", VARIANTS[0].format("借呗"), "jiebei", T0 + 10, rumour=0.8), True) == []

    story = eng.stories.get(story_id)
    assert story.volume == 1 + len(VARIANTS) + 3 + 1
    assert story.reposts == 4 and story.authors == story.volume
    assert story.headline_id == "p0" and story.rumour_max == pytest.approx(0.9)
    assert 0 < story.rumour_mean < 0.9
    assert story.window_posts == story.volume  # all within ten minutes


def _wave(eng, platform: str, name: str, start: float, n: int, tag: str) -> list:
    events = []
    for i in range(n):
        text = VARIANTS[i % len(VARIANTS)].format(name) + f" #{i % 3}"
        events += eng.process([post(f"{tag}{i}", text, platform, start + 20 * i, author=f"{tag}-u{i}",
                                    rumour=0.85, negative=True, prob_positive=0.05)])
    return events


def test_first_wave_on_a_small_platform_alerts_once_and_updates(engine):
    eng, clock = engine
    clock.t = T0 + 60
    events = _wave(eng, "xiaoying", "小赢卡贷", T0, 12, "w")
    opened = [e for e in events if e.type == "alert.opened"]
    assert len(opened) == 1, [e.type for e in events]
    alert = opened[0].alert
    assert alert.kind == "rumour" and alert.platform == "xiaoying" and opened[0].notify
    assert alert.volume >= eng.cfg.min_posts and alert.surprise >= 4
    assert 0 < alert.severity <= 100
    # growth updates the same alert; no second 'opened', no notification without a level rise
    assert all(e.alert.id == alert.id for e in events)
    assert not any(e.notify for e in events if e.type == "alert.updated" and e.alert.level == alert.level)
    assert eng.store.get(alert.id).volume == 12


def test_busy_platform_baseline_absorbs_the_same_wave(engine):
    eng, clock = engine
    # a week of ordinary rumour-like posts on a busy platform: ~1,000 a day, each its own story
    day = 86_400.0
    for i in range(7 * 1000):
        eng.rates.observe("alipay", "rumour", T0 - 7 * day + i * (7 * day / 7000))
    clock.t = T0 + 60
    events = _wave(eng, "alipay", "支付宝", T0, 6, "b")
    assert not [e for e in events if e.type == "alert.opened"]
    # while on a quiet platform the same six posts do open an alert
    assert [e.type for e in _wave(eng, "lakala", "拉卡拉", T0, 6, "q")].count("alert.opened") == 1


def test_lifecycle_acknowledge_resolve_reopen(engine):
    eng, clock = engine
    clock.t = T0 + 60
    alert = [e for e in _wave(eng, "qudian", "趣店", T0, 6, "l") if e.type == "alert.opened"][0].alert
    acked, ev = eng.store.transition(alert.id, "acknowledge", "key:risk1")
    assert acked.status == "acknowledged" and acked.acknowledged_by == "key:risk1" and ev.type == "alert.acknowledged"
    with pytest.raises(TransitionError):
        eng.store.transition(alert.id, "acknowledge", "key:risk1")
    resolved, _ = eng.store.transition(alert.id, "resolve", "key:risk2", "false alarm")
    assert resolved.status == "resolved" and resolved.resolved_by == "key:risk2"
    assert [h["action"] for h in resolved.history] == ["open", "acknowledge", "resolve"]
    # one more post in the same burst does not reopen it; the story growing by half again does
    assert not _wave(eng, "qudian", "趣店", T0 + 130, 1, "m")
    events = _wave(eng, "qudian", "趣店", T0 + 150, 8, "n")
    assert [e.type for e in events][:1] == ["alert.reopened"] and events[0].notify
    assert eng.store.get(alert.id).reopened == 1
    # quiet long enough: the sweep resolves it
    clock.t += eng.cfg.resolve_after_s + 10
    import time as _t
    eng.store.client.zadd(eng.store.active_key, {alert.id: _t.time() - eng.cfg.resolve_after_s - 1})
    clock.t = _t.time()
    swept = eng.sweep()
    assert [e.type for e in swept] == ["alert.resolved"] and eng.store.get(alert.id).resolved_by == "alerter"


def test_baselines_warmed_from_indexed_history(settings, rclient, es):
    """`trustscope alerts warm-baselines`: three days of a busy platform's rumour-like posts in ES
    make four posts in ten minutes ordinary there, while a platform without history keeps the prior."""
    import time as _t

    from elasticsearch import helpers

    from trustscope.alerts.config import AlertConfig
    from trustscope.alerts.rates import RateModel
    from trustscope.alerts.warm import warm_baselines
    from trustscope.es import DocIndices

    indices = DocIndices(settings.es_index_prefix)
    indices.migrate(es, replicas=0)
    now = _t.time()
    docs = []
    for i in range(3 * 24 * 20):  # 20 rumour-like posts an hour for three days
        at = now - 3 * 86400 + i * 180
        docs.append({"_index": indices.write_alias, "_id": f"h{i}", "_source": {
            "id": f"h{i}", "kind": "social", "source": "t", "source_id": str(i), "platforms": ["alipay"],
            "text": "提现困难", "text_simplified": "提现困难", "language": "zh", "content_hash": "x",
            "created_at": at * 1000, "ingested_at": at * 1000,
            "rumour": {"score": 0.63, "terms": ["提现困难"], "engine": "t"},
            "sentiment": {"label": "negative", "score": -0.9, "prob_positive": 0.05, "model": "t"}}})
    helpers.bulk(es, docs, refresh="wait_for")
    rates = RateModel(rclient, AlertConfig.from_settings(settings))
    done = warm_baselines(es, indices.read_alias, rates, days=4, now=now)
    assert done == {"alipay": {"rumour": 1440, "negative": 1440}}
    warmed = rates.baseline("alipay", "rumour", now)
    assert warmed.expected(600) == pytest.approx(20 / 6, rel=0.25)
    assert warmed.surprise(4, 600) < 2 < rates.baseline("qudian", "rumour", now).surprise(4, 600)
    # a second run does not count the same history twice
    assert warm_baselines(es, indices.read_alias, rates, days=4, now=now) == {}
