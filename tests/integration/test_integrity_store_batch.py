"""The store's batched script on a real Redis: chunks of operations give the in-memory store's results.

Why: a pipe's operations go to Redis as chunks of ``BATCH_OPS`` in one Lua script (``store._BATCH``);
a result out of place, or an operation whose effect differs from its own former script, would change
every counter the engine reads back (docs/benchmarks.md, "Integrity, fifth session")."""

from __future__ import annotations

import uuid

import pytest
import redis

from trustscope.integrity import store as store_mod
from trustscope.integrity.store import MemoryStore, Pair, RedisStore

pytestmark = pytest.mark.integration


def queue_mixed(p, n: int) -> None:
    """Every kind of operation, interleaved, including empty multi-operations (nothing to send)."""
    groups = [("g", "keep", 0), ("g", "drop", 0), ("cl", "founder", 0), ("g", "keep", 5)]  # name, mode, keep_last
    p.hset("clf", "grp2", "founder")  # a cluster's founder, pushed by its first joiner
    for i in range(n):
        k = f"f{i % 13}"
        name, mode, keep = groups[i % 4]
        p.hincrby("cnt", k, 2, ttl=3600 if i % 2 else 0)
        p.hsetnx("nx", k, f"v{i}")
        p.hset("hs", k, f"w{i}")
        p.hget("hs", k)
        p.hget_raw("nx", k)
        p.hmget_multi([("cnt", k), ("hs", k), ("missing", k)])
        p.hmget_multi([])
        p.hsetnx_multi([("nx2", f"a{i % 5}", "x"), ("nx2", f"b{i % 3}", "y")])
        p.hmax("mx", k, (i * 37) % 101)
        p.group_add(name, f"grp{i % 4}", f"r{i}", mode=mode, keep_last=keep)
        p.group_members(name, f"grp{i % 4}", last=i % 3)
        # a lockstep grid: the item's count, two pairs (one other item counted, one never), then a pair's members
        p.pairs_add("t/li/0/7", f"it{i % 3}", "t/lp/0/7",
                    [Pair(f"it{(i + 1) % 3}>p{i % 2}", f"x{i},r{i}", "t/li/0/7", f"it{(i + 1) % 3}"),
                     Pair(f"gone>p{i % 2}", f"y{i},r{i}", "t/li/0/6", "gone")], ttl=3600 if i % 2 else 0)
        p.group_members("t/lp/0/7", f"gone>p{i % 2}")
        p.claim(f"rev{i % 17}")
        p.set_verdicts([])


def test_batched_chunks_match_the_memory_store(monkeypatch, redis_url: str):
    monkeypatch.setattr(store_mod, "BATCH_OPS", 7)  # many chunks, split anywhere in the sequence
    c = redis.Redis.from_url(redis_url)
    prefix = f"tbat{uuid.uuid4().hex[:8]}"
    try:
        red, mem = RedisStore(c, prefix).pipe(), MemoryStore().pipe()
        for p in (red, mem):
            queue_mixed(p, 60)
        assert red.queued() == mem.queued() == 1 + 60 * 15
        got, want = red.execute(), mem.execute()
        assert len(got) == len(want)
        for n, (g, w) in enumerate(zip(got, want)):
            if isinstance(w, bytes):
                w = w.decode()
            if isinstance(g, bytes):
                g = g.decode()
            assert g == w or (w is True and g == 1) or (w == 1 and g in (0, 1)), (n, g, w)
        # the verdict script: unknown review, first verdict, same verdict, a change
        p = RedisStore(c, prefix).pipe()
        p.hset("rec", "r1", "plat\tauthor\t-")
        p.set_verdicts([("r0", "fake", 0.9), ("r1", "verified", 0.1)])
        p.set_verdicts([("r1", "verified", 0.2), ("r1", "fake", 0.8)])
        assert p.execute()[1:] == [[-1, 1], [0, 3]]
    finally:
        for key in c.scan_iter(f"{prefix}:*", count=1000):
            c.delete(key)
        c.close()


def _as_ints(values: list) -> list:
    return [[int(v) for v in x] if isinstance(x, list) else None if x is None else int(x) for x in values]


def _script_exists_calls(c: redis.Redis) -> int:
    return int(c.info("commandstats").get("cmdstat_script|exists", {}).get("calls", 0))


def test_batch_runs_without_script_exists_and_survives_a_script_flush(monkeypatch, redis_url: str):
    """One round trip per pipe: no ``SCRIPT EXISTS`` before the ``EVALSHA`` calls; after ``SCRIPT
    FLUSH`` (as after a Redis restart) the refused calls load the script and run, in order, once."""
    monkeypatch.setattr(store_mod, "BATCH_OPS", 7)
    c = redis.Redis.from_url(redis_url)
    prefix = f"tbns{uuid.uuid4().hex[:8]}"
    try:
        store = RedisStore(c, prefix)
        for flush in (True, False, False):
            if flush:
                c.script_flush()
            before = _script_exists_calls(c)
            red, mem = store.pipe(), MemoryStore().pipe()
            for p in (red, mem):
                for i in range(40):
                    p.hincrby("cnt", f"f{i % 9}", 1)
                    p.hmget_multi([("cnt", f"f{i % 9}")])
            got = red.execute()
            assert _script_exists_calls(c) == before
            want = mem.execute()
            if flush:  # the first pipe on a fresh prefix: the same results as a fresh memory store's
                assert _as_ints(got) == _as_ints(want)
        check = store.pipe()
        check.hmget_multi([("cnt", f"f{k}") for k in range(9)])
        counts = [int(v) for v in check.execute()[0]]
        assert sum(counts) == 3 * 40  # three pipes of 40 increments, none lost, none doubled
    finally:
        for key in c.scan_iter(f"{prefix}:*", count=1000):
            c.delete(key)
        c.close()
