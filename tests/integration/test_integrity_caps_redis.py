"""The bounded copy list on a real Redis: the Lua script trims it as the in-memory store does."""

from __future__ import annotations

import uuid

import pytest
import redis

from tests.unit.test_integrity_caps import copier_stream
from trustscope.integrity import IntegrityEngine
from trustscope.integrity.engine import COPIES_KEEP
from trustscope.integrity.store import RedisStore, listpack_value

pytestmark = pytest.mark.integration


def test_group_list_is_trimmed_to_the_latest_members_on_redis(redis_url: str):
    c = redis.Redis.from_url(redis_url)
    prefix = f"tcap{uuid.uuid4().hex[:8]}"
    try:
        store = RedisStore(c, prefix)
        p = store.pipe()
        for i in range(30):
            p.group_add("cpa", "a", f"r{i}", keep_last=4)
        assert p.execute()[-1] == 30  # the counter counts every member
        p = store.pipe()
        p.group_members("cpa", "a")
        p.group_members("cpa", "a", last=2)
        assert p.execute() == [["r26", "r27", "r28", "r29"], ["r28", "r29"]]
        assert c.llen(f"{prefix}:cpa:m:a") == 4
        assert listpack_value(c) == int(c.config_get("hash-max-listpack-value")["hash-max-listpack-value"])
    finally:
        for key in c.scan_iter(f"{prefix}:*", count=1000):
            c.delete(key)
        c.close()


def test_a_heavy_copier_on_redis_keeps_a_bounded_list_and_the_same_verdicts_as_memory(redis_url: str):
    c = redis.Redis.from_url(redis_url)
    prefix = f"tcap{uuid.uuid4().hex[:8]}"
    try:
        events, copy_ids = copier_stream(3 * COPIES_KEEP)
        mem, red = IntegrityEngine.in_memory(), IntegrityEngine.from_redis(c, prefix=prefix)
        for i in range(0, len(events), 8):
            mem.process(events[i:i + 8])
            red.process(events[i:i + 8])
        assert c.llen(f"{prefix}:cpa:m:copier") == COPIES_KEEP
        ids = [e.id for e in events]
        got = {u.id: (u.verdict, u.signals) for u in red.current(ids)}
        assert got == {u.id: (u.verdict, u.signals) for u in mem.current(ids)}
        assert all(got[rid][1].get("serial_copier", 0) > 0 for rid in copy_ids)
        assert not red.rejudge(copy_ids[-COPIES_KEEP:])  # the listed copies' stored verdicts are current
    finally:
        for key in c.scan_iter(f"{prefix}:*", count=1000):
            c.delete(key)
        c.close()
