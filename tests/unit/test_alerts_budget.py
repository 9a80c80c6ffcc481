"""The page budget's rule without Redis: what counts as strong evidence for a second page on a
platform within the budget window, the watch record a held story keeps, and the settings that
configure it (the budget's Redis script is tested on a real Redis: tests/integration/test_alerts_budget.py)."""

from __future__ import annotations

import pytest

from trustscope.alerts.budget import strong_evidence, weekly_bar
from trustscope.alerts.config import AlertConfig
from trustscope.alerts.models import Story, Watch
from trustscope.settings import Settings

CFG = AlertConfig()


def story(model: bool = True, rescore: float | None = None, at: int = 0, **kw) -> Story:
    return Story(id="s", platform="huabei", headline_id="h", headline="花呗 …", first_seen=0.0, last_seen=60.0,
                 volume=max(1, at), model_headline=model, head_rumour=0.9, rumour_story=rescore,
                 rescored_volume=at, **kw)


def test_a_model_rumour_needs_its_thread_rescore_at_the_confirm_bar():
    assert strong_evidence(CFG, story(rescore=0.9995, at=5), "rumour", False, 3.6) is not None
    assert "thread" in strong_evidence(CFG, story(rescore=0.9995, at=8), "rumour", True, 40.0)
    # the first post alone, or a re-score below the bar or from too few posts, is not enough
    assert strong_evidence(CFG, story(), "rumour", False, 3.6) is None
    assert strong_evidence(CFG, story(rescore=0.99, at=13), "rumour", False, 3.6) is None
    assert strong_evidence(CFG, story(rescore=0.9999, at=3), "rumour", False, 3.6) is None


def test_a_model_rumours_burst_is_no_evidence_but_other_bursts_are_at_the_weekly_bar():
    # ordinary social stories spread as fast as rumours: however surprising, a burst does not vouch
    assert strong_evidence(CFG, story(rescore=0.95, at=21), "rumour", True, 120.0) is None
    # a lexicon-scored (review) rumour burst and a negative burst: surprise >= budget_surprise
    assert strong_evidence(CFG, story(model=False), "rumour", True, 7.2) is not None
    assert strong_evidence(CFG, story(model=False), "rumour", True, 6.9) is None
    assert strong_evidence(CFG, story(model=True), "negative", True, 7.0) is not None
    assert strong_evidence(CFG, story(model=False), "negative", False, 9.0) is None  # not a burst at all
    # with early warnings off, model stories are judged like any other burst
    off = AlertConfig(early_enabled=False)
    assert strong_evidence(off, story(rescore=0.5, at=5), "rumour", True, 7.5) is not None


def test_the_weekly_bar_is_the_burst_alpha_spread_over_a_weeks_windows_and_stories():
    import math

    windows = 7 * 86_400 / CFG.window_s
    assert CFG.budget_surprise == pytest.approx(-math.log10(CFG.alpha / windows), abs=0.05)
    assert weekly_bar(CFG, 0.0) == weekly_bar(CFG, 1.0) == CFG.budget_surprise
    # a busy platform tests many stories a window: 1,000 signal posts a week raise the bar by 3
    assert weekly_bar(CFG, 1000.0) == pytest.approx(10.0)
    busy = story(model=False)
    assert strong_evidence(CFG, busy, "rumour", True, 9.5, signal_posts=1000.0) is None
    assert "weekly bar" in strong_evidence(CFG, busy, "rumour", True, 10.2, signal_posts=1000.0)


def test_a_held_story_keeps_its_watch_record():
    w = Watch(reason="page budget: huabei was paged 2.0 days before", kind="rumour", phase="early", severity=37.0,
              since=60.0, held_at=1000.0, blocked_by="abc", last_page_at=-172_740.0)
    s = story(watch=w)
    assert Story.model_validate_json(s.model_dump_json()).watch == w
    assert story().watch is None


def test_settings_configure_the_budget():
    s = Settings(alerts_budget_s=0, alerts_budget_surprise=8.0, alerts_watch_confirm_threshold=0.99,
                 alerts_watch_confirm_posts=8)
    cfg = AlertConfig.from_settings(s)
    assert (cfg.budget_s, cfg.budget_surprise, cfg.watch_confirm_threshold, cfg.watch_confirm_posts) == (0, 8.0, 0.99, 8)
    default = AlertConfig.from_settings(Settings())
    assert default.budget_s == 7 * 86_400 and default.watch_confirm_threshold == 0.999
