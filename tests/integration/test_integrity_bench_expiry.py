"""The integrity bench's stream-time expiry on a real Redis: it removes exactly the time-bucketed keys
whose window ended more than the engine's TTL before the stream's clock, as production's wall-clock
TTL would, and leaves everything else (per-item shards, younger windows) alone."""

from __future__ import annotations

import uuid

import pytest
import redis

from tests.bench_loader import load_bench
from trustscope.integrity.detectors import lockstep
from trustscope.integrity.engine import GROUP_TTL
from trustscope.integrity.store import RedisStore

pytestmark = pytest.mark.integration

DAY = 86_400


def test_stream_time_expiry_removes_only_windows_past_the_ttl(redis_url: str):
    bench = load_bench("bench_integrity")
    c = redis.Redis.from_url(redis_url)
    prefix = f"tbx{uuid.uuid4().hex[:8]}"
    now = 20_200 * DAY + 3_600.0  # the stream's clock
    old_day = int((now - GROUP_TTL) // DAY) - 2  # ended more than the TTL ago
    young_day = int((now - GROUP_TTL) // DAY) + 1  # ended less than the TTL ago
    old_w = int((now - GROUP_TTL) // lockstep.WINDOW) - 2
    young_w = int(now // lockstep.WINDOW)
    try:
        store = RedisStore(c, prefix)
        p = store.pipe()
        for day in (old_day, young_day):
            p.group_add(f"t/bu/{day}", "pf|5", "r1", ttl=GROUP_TTL)
            p.group_add(f"t/bu/{day}", "pf|5", "r2", ttl=GROUP_TTL)  # a member list too
            p.hincrby(f"t/wr/{day}", "pf|5|n", 1, ttl=GROUP_TTL)
        for w in (old_w, young_w):
            p.hincrby(f"t/li/0/{w}", "item", 1, ttl=GROUP_TTL)
            p.group_add(f"t/co/{w}", "pf|2900", "r3", ttl=GROUP_TTL, mode="drop")
        p.hset("rec", "r1", "x")  # per-item state: never expires
        p.execute()
        before = {k.decode() for k in c.scan_iter(match=f"{prefix}:*")}
        removed = bench.expire_by_stream_time(c, prefix, now)
        after = {k.decode() for k in c.scan_iter(match=f"{prefix}:*")}
        gone = before - after
        assert removed == len(gone) > 0
        assert all(f"/{old_day}" in k or f"/{old_w}" in k for k in gone)
        assert any(f"t/bu/{old_day}:m:" in k for k in gone)  # member lists go with their window
        assert not any(f"/{young_day}" in k or f"/{young_w}" in k for k in gone)
        assert any(k.startswith(f"{prefix}:rec:") for k in after)
        assert bench.expire_by_stream_time(c, prefix, now) == 0  # a second run has nothing to do
    finally:
        for key in c.scan_iter(match=f"{prefix}:*"):
            c.delete(key)
