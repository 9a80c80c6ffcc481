"""Per-platform score state in Redis, updated atomically and idempotently per document.

Keys (``P`` = the stream prefix):

- ``P:score:p:<platform>``: hash of summed fields (see ``contribution.py``): additive ``a:``/``x:``
  sums and the derived per-author shares ``s:<bucket>.<star>``. A read is one HGETALL of it; its
  size grows with the weeks and registration cohorts the reviews span, not with the authors.
- ``P:score:a:<platform>``: per-author sums of the robust formula (``<author>.n``,
  ``<author>.<bucket>.<star>``, ``<author>.b`` its buckets); touched only by writes and rebuilds.
- ``P:score:d:<shard>``: field ``<doc id>`` -> ``rev US platforms-JSON US contribution-JSON US
  author-key US author-delta-JSON`` (``US`` = ``\\x1f``) - the last contribution applied for the
  document, so a revision subtracts exactly what was added before. Sharded by crc32 of the id
  (``DOC_SHARDS``) so the records sit in compact listpack hashes: ~250 bytes per review instead of
  the ~620 a hash per document took (``P:score:doc:<doc id>``, the layout before 2026-12-01: the
  script still reads such a record, and replaces it by the packed one, when it finds no packed one).
- ``P:score:hist:<platform>``: hash ``YYYY-MM-DD`` -> JSON snapshot of that day's last score.
- ``P:score:platforms``: set of platforms with state.

Why a Lua script: reading the previous contribution, subtracting it, adding the new one, moving the
author's share (its ``n`` changes every other of its reviews' weight, ``score.author_divisor``) and
storing the record must be one step, or two indexer consumers handling a redelivered batch and its
revision could apply a contribution twice. The script refuses a revision older than the stored one and does nothing when
the same revision with the same contribution arrives again (redelivery).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

import orjson
import redis

from trustscope.integrity.score import REPEAT_FREE
from trustscope.observability import get_logger
from trustscope.scores.contribution import Contribution, SharedSums, contribution_of, unflatten
from trustscope.slot_pipeline import slot_pipeline

log = get_logger("trustscope.scores")
DOC_SHARDS = 1 << 16  # ~15 records per hash at 1M reviews: listpack encoding (< 128 fields)
US = "\x1f"  # separates a packed doc record's parts (never in JSON; escaped in author keys)

# KEYS[1] the doc records' shard hash, KEYS[2] the doc's record in the old layout (read once, then
# deleted); KEYS[3..] state hashes of the new platforms.
# ARGV[1] revision, ARGV[2] contribution JSON, ARGV[3] platforms JSON, ARGV[4] state key prefix,
# ARGV[5] author key ("" for none), ARGV[6] author fields JSON, ARGV[7] author hash key prefix,
# ARGV[8] score.REPEAT_FREE (the author divisor's free reviews), ARGV[9] the doc id (record field).
# Returns 1 applied, 0 stale (older revision), 2 unchanged (redelivery).
APPLY_LUA = """
local rev = tonumber(ARGV[1])
-- every increment as a 17-digit string: a Lua number passed as is would be cut to 14 digits
local function num(x) return string.format('%.17g', x) end

-- one author's sums in the platform's author hash change by sign*af; the platform's shared sums
-- s:<bucket>.<star> (sum over authors of vec / n) follow: the author's old share out, the new in
-- score.author_divisor: n (one voice) up to ARGV[8] reviews, n^2 / ARGV[8] beyond
local repeat_free = tonumber(ARGV[8])
local function divisor(n)
  n = math.max(1, n)
  if n <= repeat_free then return n end
  return n * n / repeat_free
end

local function author_update(p, a, af, sign)
  if a == '' then return end
  local akey = ARGV[7] .. p
  local skey = ARGV[4] .. p
  local pre = a .. '.'
  local head = redis.call('HMGET', akey, pre .. 'n', pre .. 'b')
  local n_old = tonumber(head[1]) or 0
  local buckets, seen, added = {}, {}, false
  if head[2] then
    for b in string.gmatch(head[2], '%S+') do seen[b] = true; buckets[#buckets + 1] = b end
  end
  for f, _ in pairs(af) do
    local b = string.match(f, '^(.+)%.%d$')
    if b and not seen[b] then seen[b] = true; buckets[#buckets + 1] = b; added = true end
  end
  local fields = {}
  for _, b in ipairs(buckets) do
    for k = 1, 5 do fields[#fields + 1] = b .. '.' .. k end
  end
  local old = {}
  if #fields > 0 then
    local names = {}
    for i, f in ipairs(fields) do names[i] = pre .. f end
    old = redis.call('HMGET', akey, unpack(names))
  end
  local n_new = tonumber(redis.call('HINCRBYFLOAT', akey, pre .. 'n', num(sign * (af['n'] or 0))))
  local gone = n_new <= 0
  local div_old, div_new = divisor(n_old), divisor(n_new)
  if a == '%00' then div_old, div_new = 1, 1 end
  for i, f in ipairs(fields) do
    local was = tonumber(old[i]) or 0
    local now = was
    if af[f] then now = tonumber(redis.call('HINCRBYFLOAT', akey, pre .. f, num(sign * af[f]))) end
    local share = 0
    if not gone then share = now / div_new end
    local d = share - was / div_old
    if d ~= 0 then redis.call('HINCRBYFLOAT', skey, 's:' .. f, num(d)) end
  end
  if gone then
    local names = {pre .. 'n', pre .. 'b'}
    for _, f in ipairs(fields) do names[#names + 1] = pre .. f end
    redis.call('HDEL', akey, unpack(names))
  elseif added then
    redis.call('HSET', akey, pre .. 'b', table.concat(buckets, ' '))
  end
end

-- the packed record (KEYS[1] field ARGV[9]); else a record of the old layout (hash KEYS[2])
local old = {}
local packed = redis.call('HGET', KEYS[1], ARGV[9])
local legacy = false
if packed then
  local i = 1
  for part in string.gmatch(packed .. '\\31', '([^\\31]*)\\31') do old[i] = part; i = i + 1 end
  if old[4] == '' then old[4] = nil end
else
  old = redis.call('HMGET', KEYS[2], 'rev', 'platforms', 'c', 'a', 'af')
  legacy = old[1] ~= false and old[1] ~= nil
end
if old[1] then
  local old_rev = tonumber(old[1])
  if old_rev > rev then return 0 end
  if old_rev == rev and old[2] == ARGV[3] and old[3] == ARGV[2] and (old[4] or '') == ARGV[5]
     and (old[5] or '{}') == ARGV[6] then return 2 end
  local old_c = cjson.decode(old[3])
  local old_af = cjson.decode(old[5] or '{}')
  for _, p in ipairs(cjson.decode(old[2])) do
    local key = ARGV[4] .. p
    for f, v in pairs(old_c) do redis.call('HINCRBYFLOAT', key, f, num(-v)) end
    author_update(p, old[4] or '', old_af, -1)
  end
end
local c = cjson.decode(ARGV[2])
local af = cjson.decode(ARGV[6])
local new_platforms = cjson.decode(ARGV[3])
for i = 3, #KEYS do
  for f, v in pairs(c) do redis.call('HINCRBYFLOAT', KEYS[i], f, num(v)) end
  author_update(new_platforms[i - 2], ARGV[5], af, 1)
end
redis.call('HSET', KEYS[1], ARGV[9], table.concat({ARGV[1], ARGV[3], ARGV[2], ARGV[5], ARGV[6]}, '\\31'))
if legacy then redis.call('DEL', KEYS[2]) end
return 1
"""


def pack_doc_record(c: Contribution) -> str:
    """A document's record as the script stores it (``rev US platforms US c US a US af``)."""
    return US.join((str(c.revision), orjson.dumps(list(c.platforms)).decode(), _json(c.fields), c.author,
                    _json(c.author_fields)))


def history_point(state: Mapping[str, float], at: float) -> dict[str, Any]:
    """One day's history record: the posterior mean (shown only above the minimum, at read time)
    and the counts."""
    result = unflatten(state).result(at)
    return {"posterior": result.verified_score, "verified": result.verified, "total": result.total,
            "fake": result.fake, "suspicious": result.suspicious}


def _json(fields: Mapping[str, float]) -> str:
    return orjson.dumps(fields, option=orjson.OPT_SORT_KEYS).decode()


def _num(raw: bytes | str) -> float:
    return float(raw.decode() if isinstance(raw, bytes) else raw)


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


class ScoreStore:
    """Reads and maintains the score state under ``<prefix>:score:``."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.base = f"{prefix}:score:"
        self._apply = client.register_script(APPLY_LUA)

    # --- keys --------------------------------------------------------------------------------
    def state_key(self, platform: str) -> str:
        return f"{self.base}p:{platform}"

    def author_hash_key(self, platform: str) -> str:
        return f"{self.base}a:{platform}"

    def doc_key(self, doc_id: str) -> str:
        """The document's record in the layout before 2026-12-01 (one hash per document)."""
        return f"{self.base}doc:{doc_id}"

    def doc_shard_key(self, doc_id: str) -> str:
        """The sharded hash that holds the document's packed record (field = the doc id)."""
        return f"{self.base}d:{zlib.crc32(doc_id.encode('utf-8')) % DOC_SHARDS}"

    def doc_record(self, doc_id: str) -> dict[str, Any] | None:
        """The last contribution applied for a document (``rev``, ``platforms``, ``c``, ``a``,
        ``af``), or None; for checks and tests."""
        raw = self.client.hget(self.doc_shard_key(doc_id), doc_id)
        if raw is None:
            return None
        rev, platforms, c, a, af = _text(raw).split(US)
        return {"rev": int(rev), "platforms": orjson.loads(platforms), "c": orjson.loads(c), "a": a,
                "af": orjson.loads(af)}

    def history_key(self, platform: str) -> str:
        return f"{self.base}hist:{platform}"

    @property
    def platforms_key(self) -> str:
        return f"{self.base}platforms"

    # --- writes ------------------------------------------------------------------------------
    def apply(self, contributions: Iterable[Contribution], snapshot: bool = True) -> dict[str, int]:
        """Apply contributions in one pipeline; returns counts of applied/stale/unchanged."""
        items = list(contributions)
        if not items:
            return {"applied": 0, "stale": 0, "unchanged": 0}
        pipe = slot_pipeline(self.client, self.base)  # script calls: on a cluster, the tag's master
        for c in items:
            self._apply(keys=[self.doc_shard_key(c.doc_id), self.doc_key(c.doc_id),
                              *(self.state_key(p) for p in c.platforms)],
                        args=[c.revision, _json(c.fields),
                              orjson.dumps(list(c.platforms)).decode(), f"{self.base}p:", c.author,
                              _json(c.author_fields), f"{self.base}a:", REPEAT_FREE, c.doc_id],
                        client=pipe)
        results = pipe.execute()
        counts = {"applied": results.count(1), "stale": results.count(0), "unchanged": results.count(2)}
        touched = sorted({p for c, r in zip(items, results) if r == 1 for p in c.platforms})
        if touched:
            self.client.sadd(self.platforms_key, *touched)
            if snapshot:
                self.snapshot(touched)
        return counts

    def apply_documents(self, docs: Iterable[Mapping[str, Any]]) -> dict[str, int]:
        """The indexer's hook: apply every review among the written documents."""
        return self.apply(c for d in docs if (c := contribution_of(d)) is not None)

    def snapshot(self, platforms: Iterable[str], now: datetime | None = None) -> None:
        """Record today's (UTC) score of each platform as its daily history point."""
        now = now or datetime.now(timezone.utc)
        day = now.strftime("%Y-%m-%d")
        pipe = self.client.pipeline(transaction=False)
        for p in platforms:
            pipe.hset(self.history_key(p), day, orjson.dumps(history_point(self.state(p), now.timestamp())))
        pipe.execute()

    # --- reads -------------------------------------------------------------------------------
    def state(self, platform: str) -> dict[str, float]:
        """The platform's summed fields (empty when it has no reviews)."""
        raw = self.client.hgetall(self.state_key(platform))
        return {_text(k): _num(v) for k, v in raw.items()}

    def author_state(self, platform: str) -> dict[str, float]:
        """The platform's per-author sums (``<author>.n``, ``<author>.<bucket>.<star>``); a full
        read of a hash as large as the platform's authors - for rebuild checks, never for a score."""
        out = {}
        for k, v in self.client.hscan_iter(self.author_hash_key(platform), count=5000):
            name = _text(k)
            if not name.endswith(".b"):
                out[name] = _num(v)
        return out

    def accumulator(self, platform: str) -> Any:
        return unflatten(self.state(platform))

    def history(self, platform: str, min_verified: int) -> list[dict[str, Any]]:
        """Daily points, oldest first; ``score`` is null on days with under ``min_verified`` verified
        reviews (the same withholding as the live score)."""
        raw = self.client.hgetall(self.history_key(platform))
        out = []
        for d, v in sorted(raw.items()):
            point = orjson.loads(v)
            posterior = point.pop("posterior", None)
            shown = posterior is not None and point.get("verified", 0) >= max(1, min_verified)
            out.append({"date": _text(d), "score": round(posterior, 3) if shown else None, **point})
        return out

    def platforms(self) -> list[str]:
        return sorted(_text(p) for p in self.client.smembers(self.platforms_key))

    # --- rebuild -----------------------------------------------------------------------------
    def replace(self, platform: str, state: Mapping[str, float], docs: Iterable[Contribution],
                history: Mapping[str, Mapping[str, Any]] | None = None,
                authors: SharedSums | None = None) -> None:
        """Swap in a recomputed state for one platform: the doc records first, then the sums and
        the per-author hash by RENAME (readers see the old sums or the new, never a half-written
        hash)."""
        pipe = self.client.pipeline(transaction=False)
        for c in docs:
            pipe.hset(self.doc_shard_key(c.doc_id), c.doc_id, pack_doc_record(c))
            pipe.delete(self.doc_key(c.doc_id))
        pipe.execute()
        tmp, atmp = f"{self.state_key(platform)}:rebuild", f"{self.author_hash_key(platform)}:rebuild"
        pipe = self.client.pipeline(transaction=False)
        pipe.delete(atmp)
        for key, fields in (authors.authors.items() if authors else ()):
            row = {f"{key}.{f}": repr(float(v)) for f, v in fields.items()}
            row[f"{key}.b"] = " ".join(sorted({f.rsplit(".", 1)[0] for f in fields if f != "n"}))
            pipe.hset(atmp, mapping=row)
        pipe.execute()
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(tmp)
        if state:
            pipe.hset(tmp, mapping={k: repr(float(v)) for k, v in state.items()})
            pipe.rename(tmp, self.state_key(platform))
        else:
            pipe.delete(self.state_key(platform))
        if authors and authors.authors:
            pipe.rename(atmp, self.author_hash_key(platform))
        else:
            pipe.delete(self.author_hash_key(platform))
        if history:
            pipe.hset(self.history_key(platform), mapping={d: orjson.dumps(v) for d, v in history.items()})
        pipe.sadd(self.platforms_key, platform)
        pipe.execute()
        log.info("scores.replaced", platform=platform, fields=len(state))
