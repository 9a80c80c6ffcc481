"""Lockstep detector: pair and author scores, and camouflage resistance through the engine."""

import random

from trustscope.integrity import IntegrityEngine, ReviewEvent
from trustscope.integrity.detectors import lockstep
from trustscope.integrity.textpool import _builtin_honest

DAY = 86_400
T0 = 1_735_689_600.0


def test_items_on_two_offset_grids():
    t = T0 + 2.9 * DAY
    a, b = lockstep.item_of("p", t, 0), lockstep.item_of("p", t, 1)
    assert a != b and a.startswith("p@0:") and b.startswith("p@1:")
    assert lockstep.window_of_item(a) == lockstep.window_of(t, 0)


def test_pair_score_needs_many_authors_and_a_large_share():
    assert lockstep.pair_score(4, 10) == 0.0
    assert lockstep.pair_score(12, 30) == 1.0
    assert lockstep.pair_score(12, 1000) == 0.0  # 12 shared reviewers of a huge item: chance


def test_author_score_is_relative_to_activity():
    assert lockstep.author_score(1, 3) == 0.0
    assert lockstep.author_score(10, 20) == 1.0
    assert lockstep.author_score(5, 80) == 0.0  # an honest heavy reviewer in a few dense pairs


def _review(rid, platform, author, t, text, rating=5):
    age = 100 + (sum(map(ord, author)) * 37) % 900  # registrations spread over years
    return ReviewEvent(id=rid, platform=platform, author_id=author, rating=rating, text=text, created_at=t,
                       author_created_at=T0 - age * DAY, author_review_count=12)


_RNG = random.Random(3)
TEXTS = [_builtin_honest(1, _RNG) for _ in range(1000)]


def _text(n: int) -> str:
    return TEXTS[n]


def test_camouflaged_group_is_caught_on_its_targets_only():
    """15 aged accounts with distinct texts hit three platforms in rounds and review elsewhere too."""
    engine = IntegrityEngine.in_memory()
    events = []
    accounts = [f"acct{i}" for i in range(15)]
    targets = ["t1", "t2", "t3"]
    order = random.Random(5)
    for rnd in range(6):
        shuffled = order.sample(range(15), 15)  # who posts first changes from round to round
        for i, a in enumerate(accounts):
            t = T0 + (4 * rnd + 0.05 * shuffled[i]) * DAY
            events.append(_review(f"c{rnd}-{i}", targets[rnd % 3], a, t, _text(rnd * 15 + i)))
            events.append(_review(f"v{rnd}-{i}", f"other{(i + rnd) % 20}", a, t + 1.5 * DAY,
                                  _text(500 + rnd * 15 + i), rating=3))
    for n in range(40):  # honest reviewers of the targets, each once
        events.append(_review(f"h{n}", targets[n % 3], f"honest{n}", T0 + n * 0.5 * DAY, _text(300 + n)))
    events.sort(key=lambda e: e.created_at)
    for i in range(0, len(events), 10):
        engine.process(events[i:i + 10])
    latest = {u.id: u for u in engine.current([e.id for e in events])}
    campaign = [u for rid, u in latest.items() if rid.startswith("c")]
    flagged = [u for u in campaign if u.signals.get("lockstep", 0) >= 0.5]
    assert [u.id for u in campaign if u not in flagged] == []
    assert any("lockstep" in r for r in flagged[0].reasons)
    assert all(latest[f"v{r}-{i}"].signals.get("lockstep", 0) == 0 for r in range(6) for i in range(15))
    assert all(latest[f"h{n}"].signals.get("lockstep", 0) == 0 for n in range(40))
