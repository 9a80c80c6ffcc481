"""The engine's in-process caches stay the size of the days in use, and never change a verdict.

Why: the finished days' weak-share counts, the trimmed weak-share histories and the burst baselines
are cached in the engine process. Kept in one dict with an entry cap, they filled with days nobody
asked for any more, and the engine's cost per review grew with the stream's length
(docs/benchmarks.md, "Integrity, fifth session")."""

import random

import pytest

from trustscope.integrity import IntegrityEngine, ReviewEvent
from trustscope.integrity import engine as engine_mod
from trustscope.integrity.daycache import DayCache

T0 = 1_735_689_600.0
DAY = 86_400.0


def test_advance_drops_whole_days_older_than_keep_days():
    c: DayCache[str, int] = DayCache(keep_days=3, max_entries=100)
    for day in range(10):
        c.put(day, "a", day)
        c.put(day, "b", -day)
    c.advance(9)
    assert c.days() == [6, 7, 8, 9]
    assert len(c) == 8
    assert c.get(5, "a") is None and c.get(6, "a") == 6 and c.get(9, "b") == -9
    c.advance(8)  # the latest day never moves back
    assert c.days() == [6, 7, 8, 9]


def test_entry_cap_drops_the_oldest_days_first():
    c: DayCache[int, int] = DayCache(keep_days=1000, max_entries=5)
    for day in (4, 1, 3):
        c.put(day, 0, day)
        c.put(day, 1, day)
    assert len(c) <= 5
    assert 1 not in c.days() and c.days() == [3, 4]  # day 1 (the oldest) went, not day 3 (the latest put)
    c.put(4, 0, 40)  # replacing a value does not count twice
    assert len(c) == 4 and c.get(4, 0) == 40


def test_bad_bounds_are_refused():
    with pytest.raises(ValueError):
        DayCache(keep_days=-1, max_entries=10)
    with pytest.raises(ValueError):
        DayCache(keep_days=1, max_entries=0)


def weak_stream(days: int, per_day: int = 40, platforms: int = 4, seed: int = 0) -> list[ReviewEvent]:
    """Reviews on a few platforms over many days, a third by young one-review (weak) accounts, with a
    wave of weak 5-star reviews on one platform in the last weeks so that the weak-share signal fires."""
    rng = random.Random(seed)
    out = []
    for d in range(days):
        for k in range(per_day):
            t = T0 + d * DAY + k * DAY / per_day
            weak = rng.random() < (0.7 if d >= days - 12 and k % 2 == 0 else 0.3)
            pf = "p0" if weak and d >= days - 12 else f"p{rng.randrange(platforms)}"
            n = len(out)
            out.append(ReviewEvent(
                id=f"r{n}", platform=pf, author_id=f"w{n}" if weak else f"a{rng.randrange(300)}",
                rating=5 if rng.random() < 0.7 else 1,
                text=f"第{n}条评价，体验{rng.choice('好坏快慢')}，编号{n * 7919}",
                created_at=t, author_created_at=t - (DAY if weak else 400 * DAY),
                author_review_count=1 if weak else 6, prob_positive=0.9))
    return out


def run(events: list[ReviewEvent], engine: IntegrityEngine, batch: int = 50) -> list[tuple]:
    got = []
    for i in range(0, len(events), batch):
        got += [(u.id, u.verdict, u.fake_prob, u.revision, tuple(sorted(u.signals.items())))
                for u in engine.process(events[i:i + batch])]
    return got


def test_caches_hold_only_recent_days_and_verdicts_do_not_depend_on_them(monkeypatch):
    events = weak_stream(days=110)
    cached = IntegrityEngine.in_memory()
    with_caches = run(events, cached)
    latest = int(events[-1].created_at // DAY)
    # bounded by days: nothing older than each cache's horizon is held after 110 days
    for cache, keep in ((cached._weak, engine_mod.WEAK_KEEP_DAYS), (cached._hist, engine_mod.HIST_KEEP_DAYS),
                        (cached._baselines, engine_mod.BASELINE_KEEP_DAYS)):
        assert cache.days(), "the cache was used"
        assert min(cache.days()) >= latest - keep
    assert len(cached._weak) <= 4 * 2 * (engine_mod.WEAK_KEEP_DAYS + 1)
    # the same verdicts with caches that keep (almost) nothing: every value is read from the store
    monkeypatch.setattr(engine_mod, "WEAK_CACHE", 1)
    monkeypatch.setattr(engine_mod, "HIST_CACHE", 1)
    monkeypatch.setattr(engine_mod, "BASELINE_CACHE", 1)
    bare = run(events, IntegrityEngine.in_memory())
    assert bare == with_caches
    assert any(dict(sig).get("weak_rate", 0) > 0 for *_, sig in with_caches), "the weak-share signal fired"


def test_clear_drops_every_day():
    cache: DayCache[str, int] = DayCache(keep_days=3, max_entries=10)
    cache.put(1, "a", 1)
    cache.put(2, "b", 2)
    cache.clear()
    assert len(cache) == 0 and cache.days() == [] and cache.get(1, "a") is None
    cache.put(2, "b", 3)  # still usable after
    assert len(cache) == 1 and cache.get(2, "b") == 3
