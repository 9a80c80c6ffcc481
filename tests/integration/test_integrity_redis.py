"""The integrity engine on a real Redis: same verdicts as in memory, replicas agree, redelivery safe."""

from __future__ import annotations

import uuid

import pytest
import redis

from trustscope.integrity import IntegrityEngine
from trustscope.integrity.simulator import SimConfig, simulate

pytestmark = pytest.mark.integration


@pytest.fixture()
def client(redis_url: str):
    c = redis.Redis.from_url(redis_url)
    prefixes: list[str] = []
    yield c, prefixes
    for p in prefixes:
        for key in c.scan_iter(f"{p}:*", count=1000):
            c.delete(key)
    c.close()


def _prefix(prefixes: list[str]) -> str:
    p = f"tint{uuid.uuid4().hex[:8]}"
    prefixes.append(p)
    return p


def _final(engines, events, batch=50):
    latest = {}
    for n, i in enumerate(range(0, len(events), batch)):
        for u in engines[n % len(engines)].process(events[i:i + batch]):
            latest[u.id] = u
    return latest


SIM = SimConfig(seed=11, attacks=("templated", "camouflaged"), days=30, platforms=4, use_corpus=False)


def test_redis_engine_matches_memory_engine(client):
    c, prefixes = client
    sim = simulate(SIM)
    mem = _final([IntegrityEngine.in_memory()], sim.events)
    red = _final([IntegrityEngine.from_redis(c, prefix=_prefix(prefixes))], sim.events)
    assert {k: (v.verdict, v.revision) for k, v in red.items()} == {k: (v.verdict, v.revision) for k, v in mem.items()}
    flagged = [rid for rid, u in red.items() if u.verdict != "verified" and sim.labels[rid] == "templated"]
    assert len(flagged) >= 0.9 * sum(1 for v in sim.labels.values() if v == "templated")


def test_two_replicas_on_one_redis_agree_with_one(client):
    c, prefixes = client
    sim = simulate(SIM)
    p1 = _prefix(prefixes)
    single = _final([IntegrityEngine.from_redis(c, prefix=p1)], sim.events)
    p2 = _prefix(prefixes)
    pair = _final([IntegrityEngine.from_redis(c, prefix=p2), IntegrityEngine.from_redis(c, prefix=p2)], sim.events)
    assert {k: v.verdict for k, v in pair.items()} == {k: v.verdict for k, v in single.items()}


def test_redelivered_batches_are_not_counted_twice(client):
    c, prefixes = client
    sim = simulate(SIM)
    events = sim.events[:600]
    once = _final([IntegrityEngine.from_redis(c, prefix=_prefix(prefixes))], events)
    p = _prefix(prefixes)
    engine = IntegrityEngine.from_redis(c, prefix=p)
    twice = {}
    for i in range(0, len(events), 50):
        for _ in range(2):  # every batch delivered twice (a consumer crashed before acking)
            for u in engine.process(events[i:i + 50]):
                twice[u.id] = u
    assert {k: (v.verdict, v.signals) for k, v in twice.items()} == {k: (v.verdict, v.signals) for k, v in once.items()}


class _Crash(Exception):
    pass


def test_a_crash_between_claim_and_write_is_recovered_on_redelivery(client, monkeypatch):
    """A consumer dies after claiming a batch's reviews but before writing their records: the
    redelivered batch (XAUTOCLAIM, after the stale-claim time) is ingested and judged in full."""
    import trustscope.integrity.engine as engine_mod

    c, prefixes = client
    sim = simulate(SIM)
    events = sim.events[:300]
    reference = _final([IntegrityEngine.from_redis(c, prefix=_prefix(prefixes))], events, batch=100)

    engine = IntegrityEngine.from_redis(c, prefix=_prefix(prefixes))
    latest = {u.id: u for u in engine.process(events[:100])}

    def crash(self, *a, **kw):
        raise _Crash
    with monkeypatch.context() as m:
        m.setattr(engine_mod.IntegrityEngine, "_queue_writes", crash)
        with pytest.raises(_Crash):
            engine.process(events[100:200])
    # a redelivery before the claims are stale is skipped (another consumer may be writing them)
    assert engine.process(events[100:200]) == []
    engine.claim_stale_s = 0  # as if CLAIM_STALE_S had passed
    for i in (100, 200):
        latest.update({u.id: u for u in engine.process(events[i:i + 100])})
    assert {k: v.verdict for k, v in latest.items()} == {k: v.verdict for k, v in reference.items()}
    assert len(latest) == len(events)
