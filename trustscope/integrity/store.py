"""Shared state of the integrity engine: one small set of operations, on Redis or in memory.

Why a hand-written store instead of raw redis-py calls in the detectors: the engine must behave the
same in tests, the batch CLI (in memory, no server) and the streaming service (Redis shared by
replicas). Both back ends implement the same few *high-level* operations, queued on a ``Pipe`` and
run in one round trip. On Redis every operation runs inside one Lua script (``_BATCH``, a chunk of
up to ``BATCH_OPS`` operations per call), for two reasons: replicas can run them concurrently
without read-modify-write races, and one script call replaces hundreds of commands (redis-py spends
more CPU packing a command than Redis spends running it, so the number of commands is what bounds
throughput). Memory-frugal layout (target: < 1 GB for 1M reviews):

* small per-item values live as fields of *sharded* hashes (``{prefix}:{name}:{shard}``, shard
  counts sized so a shard holds < 128 fields at 1M reviews) so Redis keeps them in its compact
  listpack encoding instead of paying ~60 bytes of per-key overhead;
* a group (near-duplicate cluster, burst day, lockstep pair, registration cohort) is a counter; its
  member list only exists once it has two members, and for lockstep pairs and cohorts (where one
  lost member does not matter) the first member is not stored at all;
* time-bucketed groups (names starting ``t/``) live in per-window keys with a TTL, so their memory
  is bounded by the time horizon (wall-clock: a replay of old history keeps them all).
"""

from __future__ import annotations

import time
import zlib
from collections import defaultdict
from typing import Any, NamedTuple, Protocol

from redis.exceptions import NoScriptError

from trustscope.observability import get_logger
from trustscope.slot_pipeline import slot_router

log = get_logger("trustscope.integrity")

SHARDS = 1 << 16
SHARDS_BY_NAME = {"lsh": 1 << 18}  # 12 band entries per review
TIME_SHARDS = 512  # lockstep pair counters per window

# One script runs a whole chunk of queued operations (``RedisPipe``): a command costs the client
# (redis-py packing, the Script call) and the server (dispatch, a Lua call) several microseconds
# whatever it does, and a review queues ~20 small operations, so one call per chunk instead of one
# per operation removes most of both (docs/benchmarks.md, "Integrity, fifth session"). Each
# operation does exactly what its own script or command did, in queue order.
# KEYS: every operation's keys in order. ARGV: per operation its code, key count, argument count and
# arguments. Returns one result per operation.
#   g   group add   KEYS counts-hash, first-member-hash, member-list; ARGV field, review id, ttl (0 =
#                   none), mode ('keep' | 'drop' | 'founder': cluster joins, the founder's id is in the
#                   first-member hash, here ``clf``), keep_last (0 = all; else the member list keeps only
#                   its latest keep_last entries: a bounded list for per-author groups) -> the count
#   gm  members     KEYS first-member-hash, member-list; ARGV field, start -> {first member, list}
#   pa  pairs add   KEYS item-counts hash, then per pair: pair-counts hash, pair member-list, the other
#                   item's counts hash; ARGV item field, ttl (0 = none), then per pair: pair field, member,
#                   the other item's field. Counts one review of the item, then each pair as a 'drop'
#                   group add (the first member is not listed) and reads the other item's count (0 when
#                   missing): one operation per lockstep grid instead of 2 + 2 per pair (a review's
#                   pairs grow as its author's recent items fill, so their cost set the per-review
#                   cost's growth) -> {item count, per pair: pair count, other item's count}
#   hg  HGET; hm: HGET per key (ARGV one field per key) -> values (false for missing)
#   hs  HSET; hn: HSETNX; hnm: HSETNX per key (ARGV field, value per key) -> fields set
#   hi  HINCRBY     ARGV field, amount, ttl (0 = none)
#   hx  keep the maximum: ARGV field, value -> the maximum
#   c   claim       KEYS the review's record hash; ARGV review id, seconds after which a claim is stale.
#                   A claim is "~<server time>" until the review's record replaces it; a claim left by a
#                   consumer that crashed between claiming and writing is taken over once stale
#                   (pre-timestamp claims are "0") -> 1 if claimed
#   v   verdicts    KEYS record hashes; ARGV (review id, verdict char, fake_prob permille) per key. The
#                   verdict state is the record's last tab-separated column: "-" before the first
#                   verdict, then <v><revision>|<permille> (kept in the record to save a hash field per
#                   review) -> per review revision * 2 + (1 if new or changed), or -1 for an unknown review
_BATCH = """
local function group_add(kn, kf, km, field, rid, ttl, mode, keep)
  local c = redis.call('HINCRBY', kn, field, 1)
  if mode == 'keep' then
    if c == 1 then
      redis.call('HSET', kf, field, rid)
    elseif c == 2 then
      local f = redis.call('HGET', kf, field)
      redis.call('HDEL', kf, field)
      if f then redis.call('RPUSH', km, f, rid) else redis.call('RPUSH', km, rid) end
    else
      redis.call('RPUSH', km, rid)
    end
  elseif mode == 'drop' then
    if c >= 2 then redis.call('RPUSH', km, rid) end
  else
    if c == 1 then
      local f = redis.call('HGET', kf, field)
      if f then redis.call('RPUSH', km, f, rid) else redis.call('RPUSH', km, rid) end
    else
      redis.call('RPUSH', km, rid)
    end
  end
  if keep > 0 and c > keep then redis.call('LTRIM', km, -keep, -1) end
  if ttl > 0 then
    redis.call('EXPIRE', kn, ttl)
    if mode == 'keep' then redis.call('EXPIRE', kf, ttl) end
    if c >= 2 then redis.call('EXPIRE', km, ttl) end
  end
  return c
end

local function verdicts(k0, nk, a0)
  local out = {}
  for i = 0, nk - 1 do
    local key, id, v, p = KEYS[k0 + i], ARGV[a0 + 3 * i], ARGV[a0 + 3 * i + 1], ARGV[a0 + 3 * i + 2]
    local cur = redis.call('HGET', key, id)
    local cut = cur and string.find(cur, '\\t[^\\t]*$')
    if not cut then
      out[i + 1] = -1
    else
      local base, state = string.sub(cur, 1, cut), string.sub(cur, cut + 1)
      if state == '-' then
        redis.call('HSET', key, id, base .. v .. '0|' .. p)
        out[i + 1] = 1
      else
        local sep = string.find(state, '|', 1, true)
        local rev = tonumber(string.sub(state, 2, sep - 1))
        if string.sub(state, 1, 1) == v then
          redis.call('HSET', key, id, base .. v .. rev .. '|' .. p)
          out[i + 1] = rev * 2
        else
          rev = rev + 1
          redis.call('HSET', key, id, base .. v .. rev .. '|' .. p)
          out[i + 1] = rev * 2 + 1
        end
      end
    end
  end
  return out
end

local out, o, ki, ai, n = {}, 0, 1, 1, #ARGV
while ai <= n do
  local code, nk, na = ARGV[ai], tonumber(ARGV[ai + 1]), tonumber(ARGV[ai + 2])
  ai = ai + 3
  local r
  if code == 'g' then
    r = group_add(KEYS[ki], KEYS[ki + 1], KEYS[ki + 2], ARGV[ai], ARGV[ai + 1], tonumber(ARGV[ai + 2]),
                  ARGV[ai + 3], tonumber(ARGV[ai + 4]))
  elseif code == 'hm' then
    r = {}
    for i = 0, nk - 1 do r[i + 1] = redis.call('HGET', KEYS[ki + i], ARGV[ai + i]) end
  elseif code == 'hs' then
    r = redis.call('HSET', KEYS[ki], ARGV[ai], ARGV[ai + 1])
  elseif code == 'hn' then
    r = redis.call('HSETNX', KEYS[ki], ARGV[ai], ARGV[ai + 1])
  elseif code == 'hnm' then
    r = 0
    for i = 0, nk - 1 do r = r + redis.call('HSETNX', KEYS[ki + i], ARGV[ai + 2 * i], ARGV[ai + 2 * i + 1]) end
  elseif code == 'hi' then
    r = redis.call('HINCRBY', KEYS[ki], ARGV[ai], ARGV[ai + 1])
    if tonumber(ARGV[ai + 2]) > 0 then redis.call('EXPIRE', KEYS[ki], ARGV[ai + 2]) end
  elseif code == 'hg' then
    r = redis.call('HGET', KEYS[ki], ARGV[ai])
  elseif code == 'hx' then
    local cur = tonumber(redis.call('HGET', KEYS[ki], ARGV[ai]) or '-1')
    local v = tonumber(ARGV[ai + 1])
    if v > cur then redis.call('HSET', KEYS[ki], ARGV[ai], ARGV[ai + 1]) r = v else r = cur end
  elseif code == 'c' then
    local now = tonumber(redis.call('TIME')[1])
    local cur = redis.call('HGET', KEYS[ki], ARGV[ai])
    r = 1
    if cur and cur ~= '0'
        and (string.sub(cur, 1, 1) ~= '~' or now - tonumber(string.sub(cur, 2)) < tonumber(ARGV[ai + 1])) then
      r = 0
    end
    if r == 1 then redis.call('HSET', KEYS[ki], ARGV[ai], '~' .. now) end
  elseif code == 'v' then
    r = verdicts(ki, nk, ai)
  elseif code == 'pa' then
    local ttl = tonumber(ARGV[ai + 1])
    r = {redis.call('HINCRBY', KEYS[ki], ARGV[ai], 1)}
    if ttl > 0 then redis.call('EXPIRE', KEYS[ki], ttl) end
    for i = 0, (nk - 1) / 3 - 1 do
      local k0, a0 = ki + 1 + 3 * i, ai + 2 + 3 * i  -- 'drop' mode never reads the first-member hash
      r[2 + 2 * i] = group_add(KEYS[k0], nil, KEYS[k0 + 1], ARGV[a0], ARGV[a0 + 1], ttl, 'drop', 0)
      r[3 + 2 * i] = tonumber(redis.call('HGET', KEYS[k0 + 2], ARGV[a0 + 2]) or '0')
    end
  elseif code == 'gm' then
    r = {redis.call('HGET', KEYS[ki], ARGV[ai]), redis.call('LRANGE', KEYS[ki + 1], tonumber(ARGV[ai + 1]), -1)}
  else
    return redis.error_reply('unknown operation ' .. tostring(code))
  end
  o = o + 1
  out[o] = r
  ki = ki + nk
  ai = ai + na
end
return out
"""
BATCH_OPS = 1024  # operations per script call: a chunk keeps the server busy for about a millisecond

CLAIM_STALE_S = 10  # a batch writes its records within a second of claiming them
# Redis keeps a hash in compact listpack form only while every value is at most
# hash-max-listpack-value bytes (default 64). A review record (~65 B with short ids, more with real
# platform and author ids) and an author's state (up to ~480 B) exceed 64, so with the default most
# shards of ``rec`` and ``au`` fall back to a hashtable, ~60 B more per field (docs/integrity.md).
LISTPACK_VALUE = 512
_checked_listpack = False


def listpack_value(client: Any) -> int | None:
    """The server's hash-max-listpack-value, or None where CONFIG is not allowed (managed Redis)."""
    try:
        got = client.config_get("hash-max-listpack-value")
        return int(next(iter(got.values())))
    except Exception:  # noqa: BLE001 - a check, never a reason to fail
        return None


def is_claim(value: str | None) -> bool:
    """A review claimed for ingestion whose record is not written yet (no verdict possible)."""
    return value is not None and (value == "0" or value.startswith("~"))


VERDICT_CHAR = {"verified": "v", "suspicious": "s", "fake": "f"}
Field = str | bytes


class Pair(NamedTuple):
    """One pair of ``Pipe.pairs_add``: a 'drop' group of the pairs hash, and the other item's counter."""

    field: str  # the pair's field in the pairs group
    member: str  # listed from the pair's second member on
    other_name: str  # the other item's counts hash
    other: str  # the other item's field in it


def shard_of(field: Field, shards: int = SHARDS) -> int:
    """Stable shard number (crc32, identical in every process, unlike Python's ``hash``)."""
    data = field.encode("utf-8") if isinstance(field, str) else field
    return zlib.crc32(data) % shards


def key_of(prefix: str, name: str, field: Field) -> str:
    """Sharded hash for per-item data; one hash per time window for names starting with ``t/``
    (lockstep pair counters, the many small fields of a window, are sharded within the window)."""
    if name.startswith("t/"):
        if name.startswith("t/lp/"):
            return f"{prefix}:{name}:{shard_of(field, TIME_SHARDS)}"
        return f"{prefix}:{name}"
    return f"{prefix}:{name}:{shard_of(field, SHARDS_BY_NAME.get(name, SHARDS))}"


def _dec(value: Any) -> Any:
    return value.decode("utf-8") if isinstance(value, bytes) else value


class Pipe(Protocol):
    """Queued operations; ``execute()`` runs them (one round trip on Redis) and returns results."""

    def hget(self, name: str, field: Field) -> None: ...
    def hget_raw(self, name: str, field: Field) -> None: ...
    def hmget_multi(self, pairs: list[tuple[str, Field]]) -> None: ...
    def hsetnx(self, name: str, field: Field, value: str | bytes) -> None: ...
    def claim(self, review_id: str, stale_s: int = CLAIM_STALE_S) -> None: ...
    def hsetnx_multi(self, triples: list[tuple[str, Field, str | bytes]]) -> None: ...
    def hset(self, name: str, field: Field, value: str | bytes) -> None: ...
    def hincrby(self, name: str, field: Field, amount: int = 1, ttl: int = 0) -> None: ...
    def hmax(self, name: str, field: Field, value: int) -> None: ...
    def group_add(self, name: str, field: str, review_id: str, ttl: int = 0, mode: str = "keep",
                  keep_last: int = 0) -> None: ...
    def group_members(self, name: str, field: str, last: int = 0) -> None: ...
    def pairs_add(self, items_name: str, item: str, pairs_name: str, pairs: list[Pair], ttl: int = 0) -> None: ...
    def set_verdicts(self, items: list[tuple[str, str, float]]) -> None: ...
    def queued(self) -> int: ...
    def execute(self) -> list[Any]: ...


class Store(Protocol):
    prefix: str

    def pipe(self) -> Pipe: ...


def _members(value: Any) -> list[str]:
    """A group's listed members; a group with one member lists only its first-member field."""
    first, listed = value
    members = [_dec(v) for v in listed]
    return members if members or first is None else [_dec(first)]


def _dec_all(values: list[Any]) -> list[Any]:
    return [_dec(v) for v in values]


def _ints(values: list[Any]) -> list[int]:
    return [int(v) for v in values]


class RedisPipe:
    """Operations queued in order and run as chunks of ``BATCH_OPS`` by one script (``_BATCH``) in one
    round trip; each operation is atomic on its own, as the individual scripts were (no MULTI)."""

    _CONST = object()  # an operation with nothing to send (an empty multi-op): its result is known

    def __init__(self, store: RedisStore) -> None:
        self._s = store
        self._keys: list[list[str]] = []  # per operation
        self._args: list[list[Any]] = []  # per operation: code, key count, argument count, arguments
        self._post: list[Any] = []  # per operation: how to read its result (None: as it is)
        self._const: dict[int, Any] = {}  # operation index -> known result

    def _k(self, name: str, field: Field) -> str:
        return key_of(self._s.prefix, name, field)

    def _op(self, code: str, keys: list[str], args: list[Any], post: Any = None) -> None:
        self._keys.append(keys)
        self._args.append([code, len(keys), len(args), *args])
        self._post.append(post)

    def _known(self, value: Any) -> None:
        self._const[len(self._post)] = value
        self._keys.append([])
        self._args.append([])
        self._post.append(self._CONST)

    def hget(self, name: str, field: Field) -> None:
        self._op("hg", [self._k(name, field)], [field], _dec)

    def hget_raw(self, name: str, field: Field) -> None:
        self._op("hg", [self._k(name, field)], [field])

    def hmget_multi(self, pairs: list[tuple[str, Field]]) -> None:
        if not pairs:
            self._known([])
            return
        p = self._s.prefix
        self._op("hm", [key_of(p, n, f) for n, f in pairs], [f for _, f in pairs], _dec_all)

    def hsetnx(self, name: str, field: Field, value: str | bytes) -> None:
        self._op("hn", [self._k(name, field)], [field, value], bool)

    def claim(self, review_id: str, stale_s: int = CLAIM_STALE_S) -> None:
        self._op("c", [self._k("rec", review_id)], [review_id, stale_s], bool)

    def hsetnx_multi(self, triples: list[tuple[str, Field, str | bytes]]) -> None:
        if not triples:
            self._known(0)
            return
        p = self._s.prefix
        args: list[Any] = []
        for _, f, v in triples:
            args += [f, v]
        self._op("hnm", [key_of(p, n, f) for n, f, _ in triples], args, int)

    def hset(self, name: str, field: Field, value: str | bytes) -> None:
        self._op("hs", [self._k(name, field)], [field, value])

    def hincrby(self, name: str, field: Field, amount: int = 1, ttl: int = 0) -> None:
        self._op("hi", [self._k(name, field)], [field, amount, ttl], int)

    def hmax(self, name: str, field: Field, value: int) -> None:
        self._op("hx", [self._k(name, field)], [field, value], int)

    def _group_keys(self, name: str, field: str) -> list[str]:
        p = self._s.prefix
        first = key_of(p, "clf", field) if name == "cl" else key_of(p, f"{name}:f", field)
        return [key_of(p, f"{name}:n", field), first, f"{p}:{name}:m:{field}"]

    def group_add(self, name: str, field: str, review_id: str, ttl: int = 0, mode: str = "keep",
                  keep_last: int = 0) -> None:
        """Count a member; ``keep_last`` > 0 keeps only the latest ``keep_last`` members listed."""
        self._op("g", self._group_keys(name, field), [field, review_id, ttl, mode, keep_last], int)

    def group_members(self, name: str, field: str, last: int = 0) -> None:
        """The group's listed members (``last`` > 0: only the latest ``last``)."""
        _, f_key, m_key = self._group_keys(name, field)
        self._op("gm", [f_key, m_key], [field, -last if last > 0 else 0], _members)

    def pairs_add(self, items_name: str, item: str, pairs_name: str, pairs: list[Pair], ttl: int = 0) -> None:
        """Count one review of ``item`` and add it to each of its pairs (see ``pa`` in ``_BATCH``)."""
        p = self._s.prefix
        keys, args = [key_of(p, items_name, item)], [item, ttl]
        counts = f"{pairs_name}:n"
        for pair in pairs:
            keys += [key_of(p, counts, pair.field), f"{p}:{pairs_name}:m:{pair.field}",
                     key_of(p, pair.other_name, pair.other)]
            args += [pair.field, pair.member, pair.other]
        self._op("pa", keys, args)

    def set_verdicts(self, items: list[tuple[str, str, float]]) -> None:
        if not items:
            self._known([])
            return
        args: list[Any] = []
        for rid, verdict, prob in items:
            args += [rid, VERDICT_CHAR[verdict], round(prob * 1000)]
        self._op("v", [self._k("rec", rid) for rid, _, _ in items], args, _ints)

    def queued(self) -> int:
        """Results ``execute()`` will return for what is queued so far (its index of the next op)."""
        return len(self._post)

    def execute(self) -> list[Any]:
        sent = [i for i, post in enumerate(self._post) if post is not self._CONST]
        pipe = self._s.new_pipeline() if sent else None
        calls: list[tuple[list[str], list[Any]]] = []
        for c in range(0, len(sent), BATCH_OPS):
            chunk = sent[c:c + BATCH_OPS]
            calls.append(([k for i in chunk for k in self._keys[i]], [a for i in chunk for a in self._args[i]]))
        raw = iter(r for got in self._s.run_batch(pipe, calls) for r in got) if pipe is not None else iter(())
        out: list[Any] = []
        for i, post in enumerate(self._post):
            if post is self._CONST:
                out.append(self._const[i])
                continue
            value = next(raw)
            out.append(value if post is None or value is None else post(value))
        self._keys, self._args, self._post, self._const = [], [], [], {}
        return out


class RedisStore:
    """State in Redis, shared by every replica that uses the same ``prefix``."""

    def __init__(self, client: Any, prefix: str = "ts:int") -> None:
        self.client = client
        self.prefix = prefix
        # The Script object gives the sha; run_batch reloads it on NOSCRIPT, so the script survives
        # a Redis restart or SCRIPT FLUSH (on a cluster the slot router's pipeline reloads it).
        self.scripts = {"batch": client.register_script(_BATCH)}

        # On a Redis Cluster all keys share the prefix's hash tag (one slot): pipelines run on the
        # master of that slot, following MOVED/ASK (redis-py's cluster pipeline refuses scripts).
        self._router = slot_router(client, prefix)
        global _checked_listpack
        value = None if _checked_listpack else listpack_value(client)
        _checked_listpack = True  # one CONFIG GET per process, whatever it says
        if value is not None and value < LISTPACK_VALUE:
            log.warning("integrity_redis_listpack_small", hash_max_listpack_value=value,
                        recommended=LISTPACK_VALUE, hint="records and author state fall back to hashtables")

    def new_pipeline(self) -> Any:
        return self.client.pipeline(transaction=False) if self._router is None else self._router.pipeline()

    def run_batch(self, pipe: Any, calls: list[tuple[list[str], list[Any]]]) -> list[Any]:
        """Run ``_BATCH`` once per (keys, args) call on ``pipe``, in order, in one round trip.

        Why not the Script object alone: a redis-py pipeline that holds Script calls first sends
        ``SCRIPT EXISTS`` (and waits for it), a second round trip per pipeline, and the engine runs
        several pipelines per batch (docs/benchmarks.md, "Integrity, ninth session"). Here ``EVALSHA`` goes out directly; the
        calls the server refuses with ``NOSCRIPT`` (after a restart or ``SCRIPT FLUSH``: then it ran
        none of them) load the script and run again, in their order. On a Redis Cluster the slot
        router's pipeline keeps the Script objects (it re-sends them after MOVED / ASK)."""
        script = self.scripts["batch"]
        if self._router is not None:
            for keys, args in calls:
                script(keys=keys, args=args, client=pipe)
            return pipe.execute()
        for keys, args in calls:
            pipe.evalsha(script.sha, len(keys), *keys, *args)
        results = pipe.execute(raise_on_error=False)
        missing = [n for n, r in enumerate(results) if isinstance(r, NoScriptError)]
        if missing:
            log.info("integrity_script_reloaded", calls=len(missing))
            self.client.script_load(_BATCH)
            redo = self.new_pipeline()
            for n in missing:
                keys, args = calls[n]
                redo.evalsha(script.sha, len(keys), *keys, *args)
            for n, r in zip(missing, redo.execute(raise_on_error=False)):
                results[n] = r
        for r in results:
            if isinstance(r, Exception):
                raise r
        return results

    def pipe(self) -> RedisPipe:
        return RedisPipe(self)


class MemoryPipe:
    """Runs each operation at ``execute()`` time against plain dicts (same semantics as the Lua)."""

    def __init__(self, store: MemoryStore) -> None:
        self._s = store
        self._ops: list[tuple[str, tuple[Any, ...]]] = []

    def hget(self, name: str, field: Field) -> None:
        self._ops.append(("hget", (name, field)))

    def hget_raw(self, name: str, field: Field) -> None:
        self._ops.append(("hget_raw", (name, field)))

    def hmget_multi(self, pairs: list[tuple[str, Field]]) -> None:
        self._ops.append(("hmget_multi", (pairs,)))

    def hsetnx(self, name: str, field: Field, value: str | bytes) -> None:
        self._ops.append(("hsetnx", (name, field, value)))

    def claim(self, review_id: str, stale_s: int = CLAIM_STALE_S) -> None:
        self._ops.append(("claim", (review_id, stale_s)))

    def hsetnx_multi(self, triples: list[tuple[str, Field, str | bytes]]) -> None:
        self._ops.append(("hsetnx_multi", (triples,)))

    def hset(self, name: str, field: Field, value: str | bytes) -> None:
        self._ops.append(("hset", (name, field, value)))

    def hincrby(self, name: str, field: Field, amount: int = 1, ttl: int = 0) -> None:
        self._ops.append(("hincrby", (name, field, amount)))

    def hmax(self, name: str, field: Field, value: int) -> None:
        self._ops.append(("hmax", (name, field, value)))

    def group_add(self, name: str, field: str, review_id: str, ttl: int = 0, mode: str = "keep",
                  keep_last: int = 0) -> None:
        self._ops.append(("group_add", (name, field, review_id, mode, keep_last)))

    def group_members(self, name: str, field: str, last: int = 0) -> None:
        self._ops.append(("group_members", (name, field, last)))

    def pairs_add(self, items_name: str, item: str, pairs_name: str, pairs: list[Pair], ttl: int = 0) -> None:
        self._ops.append(("pairs_add", (items_name, item, pairs_name, pairs)))

    def set_verdicts(self, items: list[tuple[str, str, float]]) -> None:
        self._ops.append(("set_verdicts", (items,)))

    def queued(self) -> int:
        return len(self._ops)

    def _get(self, name: str, field: Field) -> Any:
        v = self._s.h[name].get(field)
        return str(v) if isinstance(v, int) else _dec(v)

    def _group_add(self, name: str, field: str, rid: str, mode: str, keep: int) -> int:
        s = self._s
        counts = s.h[f"{name}:n"]
        c = counts[field] = int(counts.get(field, 0)) + 1
        members = s.groups[(name, field)]
        if mode == "keep":
            members.append(rid)
        elif mode == "drop":
            if c >= 2:
                members.append(rid)
        else:  # founder: a cluster join
            founder = s.h["clf"].get(field)
            members.extend([founder, rid] if c == 1 and founder else [rid])
        if keep > 0 and len(members) > keep:
            del members[:-keep]
        return c

    def execute(self) -> list[Any]:
        s = self._s
        out: list[Any] = []
        for op, a in self._ops:
            if op == "hget":
                out.append(self._get(*a))
            elif op == "hget_raw":
                out.append(s.h[a[0]].get(a[1]))
            elif op == "hmget_multi":
                out.append([self._get(n, f) for n, f in a[0]])
            elif op == "hsetnx":
                h = s.h[a[0]]
                out.append(a[1] not in h)
                h.setdefault(a[1], a[2])
            elif op == "claim":
                recs, now = s.h["rec"], int(time.time())
                cur = _dec(recs.get(a[0]))
                take = cur is None or cur == "0" or (cur.startswith("~") and now - int(cur[1:]) >= a[1])
                if take:
                    recs[a[0]] = f"~{now}"
                out.append(take)
            elif op == "hsetnx_multi":
                n = 0
                for name, f, v in a[0]:
                    h = s.h[name]
                    if f not in h:
                        h[f] = v
                        n += 1
                out.append(n)
            elif op == "hset":
                s.h[a[0]][a[1]] = a[2]
                out.append(1)
            elif op == "hincrby":
                h = s.h[a[0]]
                h[a[1]] = int(h.get(a[1], 0)) + a[2]
                out.append(h[a[1]])
            elif op == "hmax":
                h = s.h[a[0]]
                cur = max(int(h.get(a[1], -1)), a[2])
                h[a[1]] = cur
                out.append(cur)
            elif op == "group_add":
                out.append(self._group_add(*a))
            elif op == "pairs_add":
                items_name, item, pairs_name, pairs = a
                items = s.h[items_name]
                items[item] = int(items.get(item, 0)) + 1
                got = [items[item]]
                for pair in pairs:
                    got += [self._group_add(pairs_name, pair.field, pair.member, "drop", 0),
                            int(s.h[pair.other_name].get(pair.other, 0))]
                out.append(got)
            elif op == "group_members":
                members = s.groups.get((a[0], a[1]), [])
                out.append(list(members[-a[2]:] if a[2] > 0 else members))
            elif op == "set_verdicts":
                res = []
                recs = s.h["rec"]
                for rid, verdict, prob in a[0]:
                    v, p = VERDICT_CHAR[verdict], round(prob * 1000)
                    cur = recs.get(rid)
                    cur = _dec(cur) if cur is not None else None
                    if cur is None or "\t" not in cur:
                        res.append(-1)
                        continue
                    base, state = cur.rsplit("\t", 1)
                    if state == "-":
                        recs[rid] = f"{base}\t{v}0|{p}"
                        res.append(1)
                        continue
                    rev = int(state[1:state.index("|")])
                    if state[0] == v:
                        recs[rid] = f"{base}\t{v}{rev}|{p}"
                        res.append(rev * 2)
                    else:
                        recs[rid] = f"{base}\t{v}{rev + 1}|{p}"
                        res.append((rev + 1) * 2 + 1)
                out.append(res)
        self._ops = []
        return out


class MemoryStore:
    """State in this process only: tests, the batch CLI and the simulator's evaluation."""

    def __init__(self, prefix: str = "ts:int") -> None:
        self.prefix = prefix
        self.h: defaultdict[str, dict[Any, Any]] = defaultdict(dict)
        self.groups: defaultdict[tuple[str, str], list[str]] = defaultdict(list)

    def pipe(self) -> MemoryPipe:
        return MemoryPipe(self)
