"""The per-platform page budget on a real Redis: after a platform's page, a second ordinary early
warning for it inside the budget window is held as a watch (visible on the story, no event, no
page) and promoted to an alert when its story grows and the thread re-score corroborates it; the
budget is per platform; a second review burst needs the weekly surprise bar; budget 0 pages as before."""

from __future__ import annotations

import pytest

from tests.integration.test_alerts_early import CLAIM, OTHER, Clock, FixedModel, Scorer, post
from trustscope.alerts.config import AlertConfig
from trustscope.alerts.engine import AlertEngine
from trustscope.alerts.models import Post
from trustscope.alerts.rescore import StoryRescorer

pytestmark = pytest.mark.integration

T0 = 1_790_000_000.0
DAY = 86_400.0
THIRD = "网传{}负责人已被带走调查，客服电话一直打不通，有钱在里面的赶紧想办法"
REVIEW = ["听说{}已经跑路了，提现困难，大家赶紧把钱取出来！！", "转：听说{}已经跑路了提现困难，大家赶紧把钱取出来",
          "听说{}已经跑路了，提现困难，大家赶紧把钱取出来吧", "【扩散】听说{}已经跑路了，提现困难，大家赶紧把钱取出来"]

SECOND = ["{}今天又提不了现了，客服说系统升级，已经第五天了，大家小心", "转：{}今天又提不了现了，客服说系统升级，已经第五天了",
          "{}今天又提不了现了，客服说系统升级已经第五天了，大家小心！", "【求助】{}今天又提不了现了，客服说系统升级，已经第五天了"]


def make(rclient, prefix, model, **cfg) -> tuple[AlertEngine, Clock]:
    clock = Clock(T0)
    return AlertEngine(rclient, AlertConfig(prefix=prefix, **cfg), clock=clock,
                       rescorer=StoryRescorer(Scorer(model))), clock


def test_a_second_early_warning_within_the_week_is_held_then_promoted_when_the_thread_corroborates(rclient, prefix):
    model = FixedModel(0.9995)
    eng, clock = make(rclient, prefix, model)
    first = eng.process([post("a0", CLAIM.format("花呗"), "huabei", T0, rumour=0.93)])
    assert [(e.type, e.alert.phase, e.notify) for e in first] == [("alert.opened", "early", True)]
    assert eng.budget.last_page("huabei") == (pytest.approx(T0), first[0].alert.id)

    # five days later the platform's own rate of rumour-like stories lets a new one through ...
    t1 = T0 + 5 * DAY
    clock.t = t1
    assert eng.process([post("b0", OTHER.format("花呗"), "huabei", t1, rumour=0.95)]) == []
    held = eng.watched()
    assert len(held) == 1 and held[0].headline_id == "b0"
    story = held[0]
    assert story.early_surprise >= eng.early_threshold  # ... so only the budget held it
    assert story.watch.kind == "rumour" and story.watch.phase == "early" and story.watch.blocked_by == first[0].alert.id
    assert "5.0 days" in story.watch.reason and story.watch.since == pytest.approx(t1)
    assert eng.store.get(story.id) is None  # no alert, no event, nothing sent
    assert rclient.xlen(eng.cfg.events_key) == 1

    # the story grows; re-scores below watch_confirm_posts do not count, the one at 5 posts does
    got = []
    for i in range(1, 5):
        clock.t = t1 + 40 * i
        out = eng.process([post(f"b{i}", "真的假的？赶紧去提现", None, t1 + 40 * i, author=f"u{i}",
                                root_id="b0", parent_id="b0")])
        got.append((i + 1, [e.type for e in out]))
    assert got[:3] == [(2, []), (3, []), (4, [])], got
    assert got[3][1] == ["alert.opened"], got
    alert = eng.store.get(story.id)
    assert alert.volume == 5 and alert.kind == "rumour" and alert.status == "open"
    assert alert.history[0]["action"] == "watch" and "page budget" in alert.history[0]["note"]
    assert "promoted from watch" in alert.history[-1]["note"] and "thread at 5 posts" in alert.history[-1]["note"]
    assert eng.watched() == [] and eng.stories.get(story.id).watch is None
    assert model.calls == 3  # re-scored at 2, 3 and 5 posts (4 is not a re-scoring point)


def test_a_held_story_stays_held_when_the_thread_does_not_corroborate(rclient, prefix):
    eng, clock = make(rclient, prefix, FixedModel(0.96))
    assert eng.process([post("a0", CLAIM.format("借呗"), "jiebei", T0, rumour=0.93)])[0].alert.phase == "early"
    t1 = T0 + 6 * DAY
    events = []
    for i in range(12):
        clock.t = t1 + 30 * i
        p = (post("c0", OTHER.format("借呗"), "jiebei", t1, rumour=0.95) if i == 0 else
             post(f"c{i}", "转发，太可怕了", None, t1 + 30 * i, author=f"v{i}", root_id="c0", parent_id="c0"))
        events += eng.process([p])
    # twelve posts from twelve people in six minutes is a burst, but a model rumour's burst vouches for
    # nothing (ordinary stories spread too): still one watch, no page
    assert events == []
    assert [s.headline_id for s in eng.watched()] == ["c0"]
    # another platform's budget is its own
    other = eng.process([post("d0", OTHER.format("京东金融"), "jd-finance", t1, rumour=0.95)])
    assert [e.alert.phase for e in other] == ["early"]
    # two weeks on, the budget is free (and the platform's rate allows one again): the next pages at once
    t2 = T0 + 15 * DAY
    clock.t = t2
    assert [e.type for e in eng.process([post("e0", THIRD.format("借呗"), "jiebei", t2, rumour=0.97)])] == [
        "alert.opened"]


def test_budget_zero_pages_the_second_early_warning_as_before(rclient, prefix):
    eng, clock = make(rclient, prefix, FixedModel(0.96), budget_s=0)
    eng.process([post("a0", CLAIM.format("花呗"), "huabei", T0, rumour=0.93)])
    t1 = T0 + 5 * DAY
    clock.t = t1
    assert [e.alert.phase for e in eng.process([post("b0", OTHER.format("花呗"), "huabei", t1, rumour=0.95)])] == ["early"]
    assert eng.watched() == []


def _wave(eng, clock, platform: str, name: str, start: float, n: int, tag: str, gap: float = 20.0,
          texts: list[str] = REVIEW) -> list:
    events = []
    for i in range(n):
        clock.t = start + gap * i + 1
        events += eng.process([Post(id=f"{tag}{i}", platforms=[platform], author_id=f"{tag}-u{i}",
                                    text=texts[i % len(texts)].format(name), created_at=start + gap * i,
                                    ingested_at=start + gap * i, rumour=0.85, negative=True, prob_positive=0.05)])
    return events


def test_a_second_review_burst_within_the_week_needs_the_weekly_surprise(rclient, prefix):
    eng, clock = make(rclient, prefix, FixedModel(0.5))
    for i in range(7 * 50):  # a week of ordinary rumour-like reviews: 50 a day
        eng.rates.observe("xiaoying", "rumour", T0 - 7 * DAY + i * (7 * DAY / 350))
    first = [e for e in _wave(eng, clock, "xiaoying", "小赢卡贷", T0, 10, "w") if e.type == "alert.opened"]
    assert len(first) == 1 and first[0].alert.phase == "burst"
    # two days later another wave: a burst by the per-window test, but not at the weekly bar yet
    t1 = T0 + 2 * DAY
    events = _wave(eng, clock, "xiaoying", "小赢卡贷", t1, 6, "x", gap=60.0, texts=SECOND)
    assert [e for e in events if e.type == "alert.opened"] == []
    held = eng.watched()
    assert len(held) == 1 and held[0].watch.phase == "burst"
    assert 4 <= held[0].window_posts and eng.store.get(held[0].id) is None
    # it keeps growing fast: once its surprise reaches budget_surprise it pages, promoted from watch
    more = _wave(eng, clock, "xiaoying", "小赢卡贷", t1 + 300, 20, "y", gap=5.0, texts=SECOND)
    opened = [e for e in more if e.type == "alert.opened"]
    assert len(opened) == 1 and opened[0].notify and opened[0].alert.surprise >= eng.cfg.budget_surprise
    assert opened[0].alert.id == held[0].id and "burst surprise" in opened[0].alert.history[-1]["note"]


def test_the_watch_list_through_the_gateway(rclient, prefix, settings, live_server):
    """A held story is what a risk team sees at GET /v1/alerts/watch (real HTTP, real Redis); it
    leaves the list once promoted. Other roles get 403, no key 401."""
    import httpx

    from services.gateway.app import create_app as create_gateway
    from tests.integration.helpers import ALERTS, READER

    model = FixedModel(0.9995)
    eng, clock = make(rclient, prefix, model)
    eng.process([post("a0", CLAIM.format("花呗"), "huabei", T0, rumour=0.93)])
    clock.t = T0 + 5 * DAY
    eng.process([post("b0", OTHER.format("花呗"), "huabei", clock.t, rumour=0.95)])
    with live_server(create_gateway(settings)) as gw, httpx.Client(base_url=gw.url, timeout=30) as c:
        assert c.get("/v1/alerts/watch").status_code == 401
        assert c.get("/v1/alerts/watch", headers=READER).status_code == 403
        got = c.get("/v1/alerts/watch", headers=ALERTS)
        assert got.status_code == 200, got.text
        body = got.json()
        assert body["total"] == 1 and body["stories"][0]["headline_id"] == "b0"
        assert body["stories"][0]["watch"]["phase"] == "early" and "page budget" in body["stories"][0]["watch"]["reason"]
        assert c.get("/v1/alerts/watch", params={"platform": "alipay"}, headers=ALERTS).json()["total"] == 0
        assert c.get("/v1/alerts/watch", params={"platform": "HUABEI"}, headers=ALERTS).json()["total"] == 1
        assert c.get("/v1/alerts/watch", params={"size": 0}, headers=ALERTS).status_code == 422
        for i in range(1, 5):  # the thread corroborates at 5 posts: promoted, gone from the list
            clock.t = T0 + 5 * DAY + 40 * i
            eng.process([post(f"b{i}", "真的假的？赶紧去提现", None, clock.t, author=f"u{i}", root_id="b0", parent_id="b0")])
        assert c.get("/v1/alerts/watch", headers=ALERTS).json()["total"] == 0


def test_the_watch_list_finds_a_platform_past_a_page_of_other_platforms_held_stories(rclient, prefix):
    """The watch index is read a page (4 x limit) at a time until the platform's stories are found:
    a platform held longest ago is not hidden behind the newer holds of other platforms."""
    eng, clock = make(rclient, prefix, FixedModel(0.9995))
    names = [("huabei", "花呗"), ("alipay", "支付宝"), ("jiebei", "借呗"), ("ppdai", "拍拍贷"), ("lufax", "陆金所"),
             ("qudian", "趣店")]
    for i, (platform, name) in enumerate(names):  # huabei is held first, the others after it
        at = T0 + i * 60
        clock.t = at
        eng.process([post(f"a{i}", CLAIM.format(name), platform, at, rumour=0.93)])
        clock.t = at + 5 * DAY
        eng.process([post(f"b{i}", OTHER.format(name), platform, at + 5 * DAY, rumour=0.95)])
    assert len(eng.watched()) == len(names)
    assert [s.headline_id for s in eng.watched("huabei", limit=1)] == ["b0"]
