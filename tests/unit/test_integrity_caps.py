"""Bounded re-judging: an author's copy list keeps only its latest copies, however many it writes.

Why: when an author's serial-copier level changes, its listed copies are judged again; an unbounded
list makes that cost (and the list's memory) grow with the author's history (docs/integrity.md)."""

import random

from trustscope.integrity import IntegrityEngine, ReviewEvent
from trustscope.integrity.engine import COPIES_KEEP, RECENT_KEEP
from trustscope.integrity.store import MemoryStore

T0 = 1_735_689_600.0
DAY = 86_400.0
_CHARS = "的一是了我不人在他有这个上们来到时大地为子中你说生国年着就那和要她出也得里后自以会家可下而过天去能对小多然于心学么之都好看起发当没成只如事把还用第样道想作种开美总从无情己面最女但现前些所同日手又行意动方期它头经长儿回位分爱老因很给名法间斯知世什两次使身者被高已亲其进此话常与活正感"


def novel_texts(n: int, seed: int = 0) -> list[str]:
    """Distinct substantial texts: four clauses of random common characters."""
    rng = random.Random(seed)
    return ["，".join("".join(rng.choice(_CHARS) for _ in range(7)) for _ in range(4)) for _ in range(n)]


def copier_stream(copies: int, own_per_copy: int = 2) -> tuple[list[ReviewEvent], list[str]]:
    """Originals by many honest authors, then one aged account that copies them, writing
    ``own_per_copy`` texts of its own after each copy: its share of copies hovers around 1/3, so
    each copy moves its serial-copier level up a step and its own reviews take it back down (the
    worst case for re-judging: one level change per copy)."""
    texts = novel_texts((1 + own_per_copy) * copies + 10)
    events = [ReviewEvent(id=f"o{i}", platform=f"p{i % 7}", author_id=f"w{i}", rating=5, text=texts[i],
                          created_at=T0 + i * 600, author_created_at=T0 - 400 * DAY, author_review_count=5)
              for i in range(copies)]
    copy_ids = []
    t = T0 + 30 * DAY
    for i in range(copies):
        t += 3600
        copy_ids.append(f"c{i}")
        events.append(ReviewEvent(id=f"c{i}", platform=f"q{i % 5}", author_id="copier", rating=5, text=texts[i],
                                  created_at=t, author_created_at=T0 - 400 * DAY, author_review_count=5))
        for k in range(own_per_copy):
            t += 3600
            events.append(ReviewEvent(id=f"own{i}.{k}", platform=f"q{i % 5}", author_id="copier", rating=5,
                                      text=texts[copies + own_per_copy * i + k], created_at=t,
                                      author_created_at=T0 - 400 * DAY, author_review_count=5))
    return events, copy_ids


def test_store_keeps_only_the_latest_members_when_asked():
    s = MemoryStore()
    p = s.pipe()
    for i in range(40):
        p.group_add("cpa", "a", f"r{i}", keep_last=5)
        p.group_add("cl2", "a", f"r{i}")  # no cap: every member stays
    counts = p.execute()
    assert counts[-2] == 40  # the counter still counts every member
    p.group_members("cpa", "a")
    p.group_members("cl2", "a")
    p.group_members("cl2", "a", last=3)
    capped, full, last3 = p.execute()
    assert capped == [f"r{i}" for i in range(35, 40)]
    assert full == [f"r{i}" for i in range(40)]
    assert last3 == ["r37", "r38", "r39"]


def test_a_level_change_rejudges_at_most_the_latest_copies_and_recent_reviews():
    events, copy_ids = copier_stream(3 * COPIES_KEEP)
    engine = IntegrityEngine.in_memory()
    extra_sizes: list[int] = []
    judge = engine._judge

    def counting(order, extra):
        extra_sizes.append(len(extra))
        return judge(order, extra)

    engine._judge = counting
    for ev in events:
        engine.process([ev])
    assert len(engine.store.groups[("cpa", "copier")]) == COPIES_KEEP
    # the cap binds: the author has 3x more copies than listed and its level changes with every
    # copy, yet no re-judge exceeds the listed copies + its recent reviews (+ a few members of the
    # day's burst groups); without the cap the last ones re-judge all 48 copies
    assert COPIES_KEEP < max(extra_sizes) <= COPIES_KEEP + RECENT_KEEP + 4
    cur = {u.id: u for u in engine.current(copy_ids)}
    assert all(cur[c].signals.get("copied_text", 0) > 0 for c in copy_ids)
    # the listed (latest) copies carry the author's current level in their stored verdicts
    stored = {u.id: u for u in engine.rejudge(copy_ids[-COPIES_KEEP:])}
    assert not stored, "the latest copies' verdicts were up to date"


def test_the_cap_does_not_touch_an_author_with_few_copies():
    events, copy_ids = copier_stream(COPIES_KEEP - 4)
    engine = IntegrityEngine.in_memory()
    for ev in events:
        engine.process([ev])
    assert engine.store.groups[("cpa", "copier")] == copy_ids
    assert not engine.rejudge(copy_ids)  # every copy's stored verdict is current


def test_listpack_check_reads_the_setting_and_never_fails():
    from trustscope.integrity.store import listpack_value

    class Managed:  # a managed Redis that refuses CONFIG
        def config_get(self, name):
            raise PermissionError("CONFIG is disabled")

    class Plain:
        def config_get(self, name):
            return {name: "64"}

    assert listpack_value(Managed()) is None
    assert listpack_value(Plain()) == 64
