"""Copy attribution and the weak-account share on a real Redis: the same signals as in memory."""

from __future__ import annotations

import uuid

import pytest
import redis

from trustscope.integrity import IntegrityEngine
from trustscope.integrity.simulator import SimConfig, simulate

pytestmark = pytest.mark.integration


def test_copies_and_weak_waves_on_redis_match_memory(redis_url: str):
    c = redis.Redis.from_url(redis_url)
    prefix = f"tcp{uuid.uuid4().hex[:8]}"
    try:
        sim = simulate(SimConfig(seed=5, attacks=("copy_cross", "unmarked"), days=40, platforms=4,
                                 use_corpus=False))
        engines = [IntegrityEngine.in_memory(), IntegrityEngine.from_redis(c, prefix=prefix),
                   IntegrityEngine.from_redis(c, prefix=prefix)]  # two replicas alternate on Redis
        ev = sim.events
        for i in range(0, len(ev), 64):
            engines[0].process(ev[i:i + 64])
            engines[1 + (i // 64) % 2].process(ev[i:i + 64])
        ids = [e.id for e in ev]
        mem = {u.id: u for u in engines[0].current(ids)}
        red = {u.id: u for u in engines[1].current(ids)}
        assert {k: (u.verdict, u.signals) for k, u in red.items()} == {k: (u.verdict, u.signals) for k, u in mem.items()}
        copies = [rid for rid in ids if sim.labels[rid] == "copy_cross"]
        assert sum(red[rid].signals.get("copied_text", 0) > 0 for rid in copies) >= 0.8 * len(copies)
        assert c.hlen(next(iter(c.scan_iter(f"{prefix}:cph:*")))) >= 1  # the copy index is in Redis
    finally:
        for key in c.scan_iter(f"{prefix}:*", count=1000):
            c.delete(key)
        c.close()
