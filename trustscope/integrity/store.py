"""Shared state of the integrity engine: one small set of operations, on Redis or in memory.

Why a hand-written store instead of raw redis-py calls in the detectors: the engine must behave the
same in tests, the batch CLI (in memory, no server) and the streaming service (Redis shared by
replicas). Both back ends implement the same few *high-level* operations, queued on a ``Pipe`` and
run in one round trip; the two non-trivial ones (``group_add`` and ``set_verdict``) are Lua scripts
on Redis so that replicas can run them concurrently without read-modify-write races, and plain
Python in memory. Memory-frugal layout (the target is < 1 GB for 1M reviews of history):

* small per-item values live as fields of *sharded* hashes (``{prefix}:{name}:{shard}``) so Redis
  keeps them in its compact listpack encoding instead of paying ~60 bytes of per-key overhead;
* a group (near-duplicate cluster, burst window, lockstep pair, registration cohort) keeps a
  counter and only materialises its member list when a second member arrives (most groups never do);
* time-bucketed groups (bursts, lockstep pairs, cohorts) are written to per-window keys that expire,
  so their memory is bounded by the time horizon, not by the length of history.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from typing import Any, Protocol

SHARDS = 4096

# KEYS: counts-hash, first-member-hash, member-list ; ARGV: field, review id, ttl seconds (0 = none)
_GROUP_ADD = """
local c = redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
if c == 1 then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
elseif c == 2 then
  local f = redis.call('HGET', KEYS[2], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
  if f then redis.call('RPUSH', KEYS[3], f, ARGV[2]) else redis.call('RPUSH', KEYS[3], ARGV[2]) end
else
  redis.call('RPUSH', KEYS[3], ARGV[2])
end
local ttl = tonumber(ARGV[3])
if ttl > 0 then
  redis.call('EXPIRE', KEYS[1], ttl)
  redis.call('EXPIRE', KEYS[2], ttl)
  if c >= 2 then redis.call('EXPIRE', KEYS[3], ttl) end
end
return c
"""

# KEYS: verdict hash ; ARGV: review id, verdict, fake_prob -> revision * 2 + (1 if new or changed)
_SET_VERDICT = """
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '|0|' .. ARGV[3])
  return 1
end
local sep = string.find(cur, '|', 1, true)
local v = string.sub(cur, 1, sep - 1)
local rest = string.sub(cur, sep + 1)
local sep2 = string.find(rest, '|', 1, true)
local rev = tonumber(string.sub(rest, 1, sep2 - 1))
if v == ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], v .. '|' .. rev .. '|' .. ARGV[3])
  return rev * 2
end
rev = rev + 1
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '|' .. rev .. '|' .. ARGV[3])
return rev * 2 + 1
"""

# KEYS: hash ; ARGV: field, value -> keeps the maximum
_HMAX = """
local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '-1')
local v = tonumber(ARGV[2])
if v > cur then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) return v end
return cur
"""


def shard_of(key: str) -> int:
    """Stable shard number (crc32, identical in every process, unlike Python's ``hash``)."""
    return zlib.crc32(key.encode("utf-8")) % SHARDS


class Pipe(Protocol):
    """Queued operations; ``execute()`` runs them (one round trip on Redis) and returns results."""

    def hget(self, name: str, field: str) -> None: ...
    def hsetnx(self, name: str, field: str, value: str | bytes) -> None: ...
    def hset(self, name: str, field: str, value: str | bytes) -> None: ...
    def hincrby(self, name: str, field: str, amount: int = 1, ttl: int = 0) -> None: ...
    def hmax(self, name: str, field: str, value: int) -> None: ...
    def group_add(self, name: str, field: str, review_id: str, ttl: int = 0) -> None: ...
    def group_members(self, name: str, field: str) -> None: ...
    def group_count(self, name: str, field: str) -> None: ...
    def set_verdict(self, review_id: str, verdict: str, fake_prob: float) -> None: ...
    def get_verdict(self, review_id: str) -> None: ...
    def execute(self) -> list[Any]: ...


class Store(Protocol):
    prefix: str

    def pipe(self) -> Pipe: ...


def _key(prefix: str, name: str, field: str) -> str:
    """Sharded hash for per-item data; one hash per time window for names starting with ``t/``."""
    if name.startswith("t/"):
        return f"{prefix}:{name}"
    return f"{prefix}:{name}:{shard_of(field)}"


def _dec(value: Any) -> Any:
    return value.decode("utf-8") if isinstance(value, bytes) else value


class RedisPipe:
    """Operations queued on a redis-py pipeline (no MULTI: each op is atomic on its own)."""

    def __init__(self, store: RedisStore) -> None:
        self._s = store
        self._p = store.client.pipeline(transaction=False)
        self._post: list[Any] = []

    def _k(self, name: str, field: str) -> str:
        return _key(self._s.prefix, name, field)

    def hget(self, name: str, field: str) -> None:
        self._p.hget(self._k(name, field), field)
        self._post.append(_dec)

    def hsetnx(self, name: str, field: str, value: str | bytes) -> None:
        self._p.hsetnx(self._k(name, field), field, value)
        self._post.append(bool)

    def hset(self, name: str, field: str, value: str | bytes) -> None:
        self._p.hset(self._k(name, field), field, value)
        self._post.append(None)

    def hincrby(self, name: str, field: str, amount: int = 1, ttl: int = 0) -> None:
        key = self._k(name, field)
        self._p.hincrby(key, field, amount)
        self._post.append(int)
        if ttl:
            self._p.expire(key, ttl)
            self._post.append("skip")

    def hmax(self, name: str, field: str, value: int) -> None:
        self._p.evalsha(self._s.sha_hmax, 1, self._k(name, field), field, value)
        self._post.append(int)

    def _group_keys(self, name: str, field: str) -> list[str]:
        p = self._s.prefix
        return [_key(p, f"{name}:n", field), _key(p, f"{name}:f", field), f"{p}:{name}:m:{field}"]

    def group_add(self, name: str, field: str, review_id: str, ttl: int = 0) -> None:
        self._p.evalsha(self._s.sha_group, 3, *self._group_keys(name, field), field, review_id, ttl)
        self._post.append(int)

    def group_members(self, name: str, field: str) -> None:
        n_key, f_key, m_key = self._group_keys(name, field)
        self._p.hget(f_key, field)
        self._post.append("skip")
        self._p.lrange(m_key, 0, -1)
        self._post.append("members")

    def group_count(self, name: str, field: str) -> None:
        self._p.hget(self._group_keys(name, field)[0], field)
        self._post.append(lambda v: int(v))

    def set_verdict(self, review_id: str, verdict: str, fake_prob: float) -> None:
        self._p.evalsha(self._s.sha_verdict, 1, self._k("vd", review_id), review_id, verdict,
                        f"{fake_prob:.4f}")
        self._post.append(int)

    def get_verdict(self, review_id: str) -> None:
        self.hget("vd", review_id)

    def execute(self) -> list[Any]:
        raw = self._p.execute()
        out: list[Any] = []
        first: Any = None
        for value, post in zip(raw, self._post):
            if post == "skip":
                first = value
                continue
            if post == "members":
                members = [_dec(v) for v in value]
                if not members and first is not None:
                    members = [_dec(first)]
                out.append(members)
                first = None
            elif post is None:
                out.append(value)
            else:
                out.append(None if value is None else post(value))
        return out


class RedisStore:
    """State in Redis, shared by every replica that uses the same ``prefix``."""

    def __init__(self, client: Any, prefix: str = "ts:int") -> None:
        self.client = client
        self.prefix = prefix
        self.sha_group = client.script_load(_GROUP_ADD)
        self.sha_verdict = client.script_load(_SET_VERDICT)
        self.sha_hmax = client.script_load(_HMAX)

    def pipe(self) -> RedisPipe:
        return RedisPipe(self)


class MemoryPipe:
    """Runs each operation at ``execute()`` time against plain dicts (same semantics as Lua)."""

    def __init__(self, store: MemoryStore) -> None:
        self._s = store
        self._ops: list[tuple[str, tuple[Any, ...]]] = []

    def hget(self, name: str, field: str) -> None:
        self._ops.append(("hget", (name, field)))

    def hsetnx(self, name: str, field: str, value: str | bytes) -> None:
        self._ops.append(("hsetnx", (name, field, value)))

    def hset(self, name: str, field: str, value: str | bytes) -> None:
        self._ops.append(("hset", (name, field, value)))

    def hincrby(self, name: str, field: str, amount: int = 1, ttl: int = 0) -> None:
        self._ops.append(("hincrby", (name, field, amount)))

    def hmax(self, name: str, field: str, value: int) -> None:
        self._ops.append(("hmax", (name, field, value)))

    def group_add(self, name: str, field: str, review_id: str, ttl: int = 0) -> None:
        self._ops.append(("group_add", (name, field, review_id)))

    def group_members(self, name: str, field: str) -> None:
        self._ops.append(("group_members", (name, field)))

    def group_count(self, name: str, field: str) -> None:
        self._ops.append(("group_count", (name, field)))

    def set_verdict(self, review_id: str, verdict: str, fake_prob: float) -> None:
        self._ops.append(("set_verdict", (review_id, verdict, fake_prob)))

    def get_verdict(self, review_id: str) -> None:
        self._ops.append(("hget", ("vd", review_id)))

    def execute(self) -> list[Any]:
        s = self._s
        out: list[Any] = []
        for op, a in self._ops:
            if op == "hget":
                v = s.h[a[0]].get(a[1])
                out.append(_dec(v) if not isinstance(v, int) else str(v))
            elif op == "hsetnx":
                h = s.h[a[0]]
                if a[1] in h:
                    out.append(False)
                else:
                    h[a[1]] = a[2]
                    out.append(True)
            elif op == "hset":
                s.h[a[0]][a[1]] = a[2]
                out.append(1)
            elif op == "hincrby":
                h = s.h[a[0]]
                h[a[1]] = int(h.get(a[1], 0)) + a[2]
                out.append(h[a[1]])
            elif op == "hmax":
                h = s.h[a[0]]
                cur = int(h.get(a[1], -1))
                if a[2] > cur:
                    h[a[1]] = a[2]
                    cur = a[2]
                out.append(cur)
            elif op == "group_add":
                members = s.groups[(a[0], a[1])]
                members.append(a[2])
                out.append(len(members))
            elif op == "group_count":
                g = s.groups.get((a[0], a[1]))
                out.append(len(g) if g else None)
            elif op == "group_members":
                out.append(list(s.groups.get((a[0], a[1]), [])))
            elif op == "set_verdict":
                rid, verdict, prob = a
                cur = s.h["vd"].get(rid)
                if cur is None:
                    s.h["vd"][rid] = f"{verdict}|0|{prob:.4f}"
                    out.append(1)
                    continue
                v, rev, _ = cur.split("|")
                if v == verdict:
                    s.h["vd"][rid] = f"{v}|{rev}|{prob:.4f}"
                    out.append(int(rev) * 2)
                else:
                    s.h["vd"][rid] = f"{verdict}|{int(rev) + 1}|{prob:.4f}"
                    out.append((int(rev) + 1) * 2 + 1)
        self._ops = []
        return out


class MemoryStore:
    """State in this process only: tests, the batch CLI and the simulator's evaluation."""

    def __init__(self, prefix: str = "ts:int") -> None:
        self.prefix = prefix
        self.h: defaultdict[str, dict[str, Any]] = defaultdict(dict)
        self.groups: defaultdict[tuple[str, str], list[str]] = defaultdict(list)

    def pipe(self) -> MemoryPipe:
        return MemoryPipe(self)
