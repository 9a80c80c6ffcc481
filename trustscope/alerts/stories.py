"""Stories: posts about one platform grouped by thread root and by near-duplicate text.

A post joins the story of its thread root (or parent) when that is known; otherwise the story whose
recent posts share an LSH band with it (MinHash over character shingles of the normalised text,
``bands`` x ``rows`` bands: two texts with Jaccard similarity ~0.5 collide with probability ~0.5,
at 0.8 almost surely); otherwise it starts a story. State lives in Redis with expiry, so memory is
bounded by the traffic of the last ``idle_ttl_s`` plus live stories (docs/alerts.md has the numbers):

- ``{p}:al:story:{id}`` hash (counters, headline, ``sig``: the headline's MinHash, which an LSH
  candidate must resemble to be joined), ``:authors`` HyperLogLog, ``:win`` minute buckets of the burst
  window (event time) of all posts, rumour-like (``r{minute}``) and negative (``n{minute}``) ones; TTL ``idle_ttl_s`` while a story has one post, ``story_ttl_s`` after.
- ``{p}:al:watch`` sorted set story id -> event time it was held by the page budget (the watch
  index; members whose story expired are dropped when read or after ``story_ttl_s``).
- ``{p}:al:thr:{post}`` hash platform -> story, for posts and thread roots (also the replay guard:
  a post already counted is not counted again when a batch is redelivered).
- ``{p}:al:lsh:{platform}:{band}:{hash}`` -> story, TTL ``idle_ttl_s`` for signal posts and posts
  that joined a story, ``plain_lsh_ttl_s`` for the rest; ``{p}:al:claim:{platform}:{hash}`` likewise for the same claim in other
  words (the same two or more rumour terms about the platform), one vote like one band.

One update is one Lua script, so a story's counters never disagree with each other.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
from dataclasses import dataclass

from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson
import redis
from datasketch import MinHash

from trustscope.alerts.config import AlertConfig
from trustscope.alerts.models import Post, Story, Watch
from trustscope.alerts.rates import signal_kinds

_MARKUP = re.compile(r"https?://\S+|//@[^:：\s]{1,30}[:：]?|@[^\s:：@/]{1,30}|\[[^\]]{1,8}\]")
_PUNCT = re.compile(r"[\W_]+", re.UNICODE)

_UPDATE = """
if redis.call('HEXISTS', KEYS[4], ARGV[2]) == 1 then return false end
local s = KEYS[1]
if redis.call('EXISTS', s) == 0 then
  redis.call('HSET', s, 'id', ARGV[1], 'platform', ARGV[2], 'headline_id', ARGV[3], 'headline', ARGV[4],
             'first_seen', ARGV[5], 'last_seen', ARGV[5], 'first_ingested', ARGV[15], 'rumour_max', '0',
             'model', ARGV[17], 'head_rumour', ARGV[8], 'lex_max', '0')
  if ARGV[19] ~= '' then redis.call('HSET', s, 'sig', ARGV[19]) end
end
local vol = redis.call('HINCRBY', s, 'volume', 1)
redis.call('HINCRBY', s, 'reposts', tonumber(ARGV[7]))
redis.call('HINCRBYFLOAT', s, 'rumour_sum', ARGV[8])
if tonumber(ARGV[8]) > tonumber(redis.call('HGET', s, 'rumour_max') or '0') then
  redis.call('HSET', s, 'rumour_max', ARGV[8])
end
if ARGV[17] == '0' and tonumber(ARGV[8]) > tonumber(redis.call('HGET', s, 'lex_max') or '0') then
  redis.call('HSET', s, 'lex_max', ARGV[8])
end
redis.call('HINCRBY', s, 'negative', tonumber(ARGV[9]))
if ARGV[10] ~= '' then
  redis.call('HINCRBYFLOAT', s, 'pos_sum', ARGV[10])
  redis.call('HINCRBY', s, 'scored', 1)
end
local t = tonumber(ARGV[5])
if t < tonumber(redis.call('HGET', s, 'first_seen')) then redis.call('HSET', s, 'first_seen', ARGV[5]) end
if t > tonumber(redis.call('HGET', s, 'last_seen')) then redis.call('HSET', s, 'last_seen', ARGV[5]) end
if ARGV[16] ~= '' then
  local cur = redis.call('HGET', s, 'terms') or '|'
  for term in string.gmatch(ARGV[16], '[^|]+') do
    if not string.find(cur, '|' .. term .. '|', 1, true) and #cur < 400 then cur = cur .. term .. '|' end
  end
  redis.call('HSET', s, 'terms', cur)
end
redis.call('PFADD', KEYS[2], ARGV[6])
-- burst window, per minute: all posts ('{minute}'), rumour-like ('r{minute}') and negative ('n{minute}')
redis.call('HINCRBY', KEYS[3], ARGV[11], 1)
if ARGV[18] == '1' then redis.call('HINCRBY', KEYS[3], 'r' .. ARGV[11], 1) end
if ARGV[9] == '1' then redis.call('HINCRBY', KEYS[3], 'n' .. ARGV[11], 1) end
local w = redis.call('HGETALL', KEYS[3])
local sums = {a = 0, r = 0, n = 0}
local newest = tonumber(ARGV[11])
local minutes, kinds = {}, {}
for i = 1, #w, 2 do
  local c = string.sub(w[i], 1, 1)
  if c == 'r' or c == 'n' then minutes[i] = tonumber(string.sub(w[i], 2)); kinds[i] = c
  else minutes[i] = tonumber(w[i]); kinds[i] = 'a' end
  if minutes[i] > newest then newest = minutes[i] end
end
for i = 1, #w, 2 do
  if minutes[i] <= newest - tonumber(ARGV[12]) then redis.call('HDEL', KEYS[3], w[i])
  else sums[kinds[i]] = sums[kinds[i]] + tonumber(w[i + 1]) end
end
local sum = sums.a
local ttl = tonumber(ARGV[13])
if vol > 1 then ttl = tonumber(ARGV[14]) end
redis.call('HSET', KEYS[4], ARGV[2], ARGV[1])
redis.call('EXPIRE', KEYS[4], ttl)
if KEYS[5] ~= KEYS[4] then
  redis.call('HSETNX', KEYS[5], ARGV[2], ARGV[1])
  redis.call('EXPIRE', KEYS[5], ttl)
end
redis.call('EXPIRE', s, ttl)
redis.call('EXPIRE', KEYS[2], ttl)
redis.call('EXPIRE', KEYS[3], ttl)
return {sum, redis.call('PFCOUNT', KEYS[2]), redis.call('HGETALL', s), sums.r, sums.n}
"""


def normalise(text: str) -> str:
    """Text without links, @mentions, [emoji] tags, punctuation and spaces, lower-cased."""
    return _PUNCT.sub("", _MARKUP.sub("", text)).lower()


def shingles(text: str, k: int) -> set[bytes]:
    t = normalise(text)
    if len(t) <= k:
        return {t.encode()} if t else set()
    return {t[i:i + k].encode() for i in range(len(t) - k + 1)}


def _d(v: bytes | str) -> str:
    return v.decode() if isinstance(v, bytes) else v


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a post went: its story after the update, and how it got there."""

    story: Story
    via: str  # "thread" | "lsh" | "new"


class StoryStore:
    def __init__(self, client: redis.Redis, config: AlertConfig) -> None:
        self.client = client
        self.cfg = config
        self.rows = config.num_perm // config.bands
        self._update = client.register_script(_UPDATE)
        # a batch's reads and buffered writes (begin_batch .. end_batch); None outside a batch
        self._threads: dict[str, dict[str, str]] | None = None
        self._bands: dict[str, str | None] | None = None
        self._band_keys: dict[tuple[str, str], list[str]] | None = None
        self._post_sigs: dict[tuple[str, str], np.ndarray | None] | None = None  # the batch's posts' signatures
        self._story_sigs: dict[str, np.ndarray | None] | None = None  # candidate stories' headline signatures
        self._pending: dict[str, tuple[str, int]] | None = None
        seed = MinHash(num_perm=config.num_perm, seed=7)
        self._perm, self._scheme = seed.permutations, seed.scheme  # shared, computed once

    # --- keys --------------------------------------------------------------------------------
    def story_key(self, story_id: str) -> str:
        return f"{self.cfg.key}:story:{story_id}"

    def thread_key(self, post_id: str) -> str:
        return f"{self.cfg.key}:thr:{post_id}"

    def signature(self, text: str) -> np.ndarray | None:
        """The text's MinHash (``num_perm`` values < 2**32), None for texts too short to match by text."""
        sh = shingles(text, self.cfg.shingle)
        if len(normalise(text)) < self.cfg.min_lsh_chars or not sh:
            return None
        mh = MinHash(num_perm=self.cfg.num_perm, seed=7, permutations=self._perm, scheme=self._scheme)
        mh.update_batch(list(sh))
        return np.asarray(mh.hashvalues, dtype=np.uint64)

    def _lsh_keys(self, platform: str, values: np.ndarray | None) -> list[str]:
        if values is None:
            return []
        out = []
        for b in range(self.cfg.bands):
            band = values[b * self.rows:(b + 1) * self.rows].tobytes()
            out.append(f"{self.cfg.key}:lsh:{platform}:{b}:{hashlib.blake2b(band, digest_size=8).hexdigest()}")
        return out

    def _claim_keys(self, platform: str, post: Post) -> list[str]:
        """Same claim in other words: two or more of the same rumour terms about the same platform."""
        terms = sorted(set(post.rumour_terms))
        if len(terms) < 2:
            return []
        digest = hashlib.blake2b("|".join(terms).encode(), digest_size=8).hexdigest()
        return [f"{self.cfg.key}:claim:{platform}:{digest}"]

    # --- reading -----------------------------------------------------------------------------
    def get(self, story_id: str) -> Story | None:
        return self.get_many([story_id])[0]

    def get_many(self, story_ids: list[str]) -> list[Story | None]:
        """The stories (None where expired), read in one round trip."""
        pipe = self.client.pipeline(transaction=False)
        for sid in story_ids:
            key = self.story_key(sid)
            pipe.hgetall(key)
            pipe.hgetall(key + ":win")
            pipe.pfcount(key + ":authors")
        res = pipe.execute() if story_ids else []
        out: list[Story | None] = []
        for i in range(len(story_ids)):
            raw, win, authors = res[3 * i:3 * i + 3]
            if not raw:
                out.append(None)
                continue
            out.append(self._story({_d(k): _d(v) for k, v in raw.items()}, *self._window(win), authors=int(authors)))
        return out

    def thread_stories(self, post_id: str) -> dict[str, str]:
        return {_d(k): _d(v) for k, v in self.client.hgetall(self.thread_key(post_id)).items()}

    def _window(self, win: dict[Any, Any]) -> tuple[int, int, int]:
        """(all, rumour-like, negative) posts of a ``:win`` hash within the burst window."""
        counts: dict[str, dict[int, int]] = {"a": {}, "r": {}, "n": {}}
        for k, v in win.items():
            f = _d(k)
            kind, minute = (f[0], f[1:]) if f[:1] in ("r", "n") else ("a", f)
            counts[kind][int(minute)] = int(v)
        newest = max((m for c in counts.values() for m in c), default=0)
        span = max(1, math.ceil(self.cfg.window_s / 60))

        def total(c: dict[int, int]) -> int:
            return sum(v for m, v in c.items() if m > newest - span)
        return total(counts["a"]), total(counts["r"]), total(counts["n"])

    def _story(self, h: dict[str, str], window: int, window_rumour: int = 0, window_negative: int = 0,
               authors: int = 0) -> Story:
        vol = int(h.get("volume", 0))
        scored = int(h.get("scored", 0))
        minutes = max(1.0, self.cfg.window_s / 60.0)
        return Story(
            id=h["id"], platform=h["platform"], headline_id=h["headline_id"], headline=h["headline"],
            first_seen=float(h["first_seen"]), last_seen=float(h["last_seen"]),
            first_ingested=float(h["first_ingested"]) if h.get("first_ingested") else None,
            volume=vol, reposts=int(h.get("reposts", 0)), authors=authors, window_posts=window,
            window_rumour=window_rumour, window_negative=window_negative,
            velocity_per_min=round(window / minutes, 3), rumour_max=float(h.get("rumour_max", 0)),
            lexicon_max=float(h["lex_max"]) if "lex_max" in h else None,
            rumour_mean=round(float(h.get("rumour_sum", 0)) / vol, 4) if vol else 0.0,
            negative_share=round(int(h.get("negative", 0)) / vol, 4) if vol else 0.0,
            sentiment_mean=round(float(h.get("pos_sum", 0)) / scored, 4) if scored else None,
            terms=[t for t in h.get("terms", "").split("|") if t],
            model_headline=h.get("model") == "1", head_rumour=float(h.get("head_rumour", 0)),
            rumour_story=float(h["rumour_story"]) if h.get("rumour_story") else None,
            rescored_volume=int(h.get("rescored_volume", 0)), early_seen=bool(h.get("early_seen")),
            early_surprise=float(h["early_surprise"]) if h.get("early_surprise") else None,
            watch=Watch.model_validate_json(h["watch"]) if h.get("watch") else None,
        )

    # --- writing -----------------------------------------------------------------------------
    def begin_batch(self, posts: Sequence[Post]) -> None:
        """Read what a batch of posts needs in one round trip (their thread roots' and parents'
        stories, their LSH bands), so ``add`` costs about one script call per post. Until
        ``end_batch`` the batch's own placements are overlaid on what was read and its LSH writes are
        buffered (one consumer owns the story state, as everywhere in the alerter)."""
        roots = sorted({r for p in posts for r in (p.root_id, p.parent_id) if r})
        self._post_sigs = {}
        for p in posts:  # only posts that name a platform are matched by text (keyed by text too: an id
            if p.platforms and (p.id, p.text) not in self._post_sigs:  # can come twice with other texts)
                self._post_sigs[(p.id, p.text)] = self.signature(p.text)
        self._band_keys = {(p.id, platform): self._lsh_keys(platform, self._post_sigs[(p.id, p.text)])
                           + self._claim_keys(platform, p) for p in posts for platform in p.platforms}
        keys = sorted({k for ks in self._band_keys.values() for k in ks})
        pipe = self.client.pipeline(transaction=False)
        for r in roots:
            pipe.hgetall(self.thread_key(r))
        if keys:
            pipe.mget(keys)
        got = pipe.execute() if len(pipe) else []
        self._threads = {r: {_d(k): _d(v) for k, v in h.items()} for r, h in zip(roots, got)}
        self._bands = {k: (_d(v) if v else None) for k, v in zip(keys, got[len(roots)] if keys else [])}
        self._story_sigs = {}
        self._read_sigs(sorted({sid for sid in self._bands.values() if sid}))
        self._pending = {}

    def end_batch(self) -> None:
        """Write the batch's buffered LSH entries (the last writer of a key wins, as one by one)."""
        if self._pending:
            pipe = self.client.pipeline(transaction=False)
            for k, (sid, ttl) in self._pending.items():
                pipe.set(k, sid, ex=ttl)
            pipe.execute()
        self._threads, self._bands, self._band_keys, self._pending = None, None, None, None
        self._post_sigs, self._story_sigs = None, None

    def _thread_of(self, roots: list[str]) -> dict[str, str]:
        if self._threads is not None and all(r in self._threads for r in roots):
            found = [self._threads[r] for r in roots]
        elif roots:
            pipe = self.client.pipeline(transaction=False)
            for r in roots:
                pipe.hgetall(self.thread_key(r))
            found = [{_d(k): _d(v) for k, v in h.items()} for h in pipe.execute()]
        else:
            found = []
        thread: dict[str, str] = {}
        for h in reversed(found):  # the root wins over the parent
            thread.update(h)
        return thread

    def _votes(self, keys: list[str]) -> dict[str, tuple[int, bool]]:
        """Candidate story -> (votes, whether the same-claim key is among them), best first."""
        if self._bands is not None and all(k in self._bands for k in keys):
            sids = [self._bands[k] for k in keys]
        else:
            sids = [_d(v) if v else None for v in self.client.mget(keys)]
        votes: dict[str, tuple[int, bool]] = {}
        for key, sid in zip(keys, sids):
            if sid:
                n, claim = votes.get(sid, (0, False))
                votes[sid] = (n + 1, claim or f"{self.cfg.key}:claim:" in key)
        return dict(sorted(votes.items(), key=lambda kv: -kv[1][0]))

    def _read_sigs(self, story_ids: list[str]) -> dict[str, np.ndarray | None]:
        """The headline signatures of ``story_ids`` (None: the story has none), those not known yet read
        in one round trip; inside a batch they are kept for the batch (``begin_batch`` reads its
        candidates' at once), outside one read per call."""
        cache = self._story_sigs if self._story_sigs is not None else {}
        todo = [sid for sid in story_ids if sid not in cache]
        if todo:
            pipe = self.client.pipeline(transaction=False)
            for sid in todo:
                pipe.hget(self.story_key(sid), "sig")
            for sid, raw in zip(todo, pipe.execute()):
                cache[sid] = np.frombuffer(base64.b64decode(raw), dtype="<u4").astype(np.uint64) if raw else None
        return cache

    def similarity(self, a: np.ndarray, b: np.ndarray) -> float:
        """Estimated Jaccard similarity of two texts' shingle sets: the share of equal MinHash values."""
        return float(np.mean(a == b)) if len(a) == len(b) else 0.0

    def _choose(self, votes: dict[str, tuple[int, bool]], sig: np.ndarray | None) -> str | None:
        """The best-voted candidate story the post is verified to belong to. An LSH vote is only a
        collision of one band with **any** of a story's recent posts, so a story with many different
        posts collects collisions from texts that share a few characters with one of them (measured:
        a 230-review complaint story absorbed an unrelated social thread this way, docs/alerts.md);
        a vote is kept only when the post resembles the story's headline (estimated Jaccard ≥
        ``join_min_similarity``) or when the same claim in other words voted for it."""
        sigs = self._read_sigs(list(votes))
        for sid, (_n, claim) in votes.items():
            head = sigs.get(sid)
            if claim or head is None or sig is None or self.similarity(sig, head) >= self.cfg.join_min_similarity:
                return sid
        return None

    def add(self, post: Post, signal: bool) -> list[Placement]:
        """Count ``post`` in one story per platform (its own or its thread's); [] if seen before."""
        roots = [r for r in dict.fromkeys([post.root_id, post.parent_id]) if r]
        thread = self._thread_of(roots)
        platforms = post.platforms or sorted(thread)  # a reply that names no platform joins its thread's
        placements = []
        sig = self._post_sig(post) if platforms else None  # one MinHash per post, whatever its platforms
        for platform in platforms:
            via = "thread"
            story_id = thread.get(platform)
            keys = self._band_keys.get((post.id, platform)) if self._band_keys is not None else None
            if keys is None:
                keys = self._lsh_keys(platform, sig) + self._claim_keys(platform, post)
            if story_id is None and keys:
                votes = self._votes(keys)
                if votes:
                    story_id = self._choose(votes, sig)
                    via = "lsh"
            if story_id is None:
                story_id, via = hashlib.blake2b(f"{platform}\x1f{post.id}".encode(), digest_size=10).hexdigest(), "new"
            pipe = self.client.pipeline(transaction=False)  # the writes after the update, one round trip
            placement = self._apply(post, platform, story_id, via, roots[0] if roots else None, pipe, sig)
            if placement is None:
                continue
            placements.append(placement)
            if self._threads is not None:  # what the script wrote, for the batch's later replies
                self._threads.setdefault(post.id, {})[platform] = story_id
                if roots:
                    self._threads.setdefault(roots[0], {}).setdefault(platform, story_id)
            if keys:
                # every post can be copied, but only signal posts and growing stories are kept long
                ttl = self.cfg.idle_ttl_s if (signal or via != "new") else self.cfg.plain_lsh_ttl_s
                for k in keys:
                    if self._pending is not None and self._bands is not None:
                        self._pending[k] = (story_id, ttl)
                        self._bands[k] = story_id
                    else:
                        pipe.set(k, story_id, ex=ttl)
            if len(pipe):
                pipe.execute()
        return placements

    def _post_sig(self, post: Post) -> np.ndarray | None:
        if self._post_sigs is not None and (post.id, post.text) in self._post_sigs:
            return self._post_sigs[(post.id, post.text)]
        return self.signature(post.text)

    def _apply(self, post: Post, platform: str, story_id: str, via: str, root: str | None,
               pipe: Any, sig: np.ndarray | None = None) -> Placement | None:
        sk = self.story_key(story_id)
        minute = int(post.created_at // 60)
        res = self._update(
            keys=[sk, sk + ":authors", sk + ":win", self.thread_key(post.id),
                  self.thread_key(root) if root else self.thread_key(post.id)],
            args=[story_id, platform, post.id, post.text[:280], f"{post.created_at:.3f}", post.author_id,
                  1 if (post.root_id or post.parent_id) else 0, f"{post.rumour:.4f}", 1 if post.negative else 0,
                  "" if post.prob_positive is None else f"{post.prob_positive:.4f}", minute,
                  max(1, math.ceil(self.cfg.window_s / 60)), self.cfg.idle_ttl_s, self.cfg.story_ttl_s,
                  f"{post.ingested_at or 0:.3f}", "|".join(post.rumour_terms), 1 if post.model_scored else 0,
                  1 if "rumour" in signal_kinds(post, self.cfg) else 0,
                  base64.b64encode(sig.astype("<u4").tobytes()).decode() if sig is not None else ""])  # kept if it starts a story
        if not res:
            return None
        window, authors, flat = int(res[0]), int(res[1]), res[2]
        h = {_d(flat[i]): _d(flat[i + 1]) for i in range(0, len(flat), 2)}
        story = self._story(h, window, int(res[3]), int(res[4]), authors=authors)
        if story.volume == 1 and self._story_sigs is not None:  # a new story: the batch's later posts verify against it
            self._story_sigs[story_id] = sig
        if story.model_headline:  # the thread the model re-scores the story with (its first posts)
            item = orjson.dumps({"id": post.id, "parent": post.parent_id or "", "uid": post.author_id,
                                 "text": post.text[:280], "t": round(post.created_at, 3)})
            ttl = self.cfg.idle_ttl_s if story.volume <= 1 else self.cfg.story_ttl_s
            pipe.rpush(sk + ":posts", item)
            pipe.ltrim(sk + ":posts", 0, self.cfg.story_posts_kept - 1)
            pipe.expire(sk + ":posts", ttl)
        return Placement(story, via)

    # --- re-scoring and early warnings ----------------------------------------------------------
    def thread_posts(self, story_id: str) -> list[dict[str, Any]]:
        """The story's first posts (headline first), as kept for re-scoring."""
        return [orjson.loads(x) for x in self.client.lrange(self.story_key(story_id) + ":posts", 0, -1)]

    def set_rescore(self, story: Story, prob: float) -> Story:
        self.client.hset(self.story_key(story.id), mapping={"rumour_story": f"{prob:.4f}",
                                                              "rescored_volume": story.volume})
        return story.model_copy(update={"rumour_story": round(prob, 4), "rescored_volume": story.volume})

    def first_early(self, story: Story, surprise: float) -> Story | None:
        """Mark ``story`` as counted among its platform's new rumour-like stories, with the surprise it
        was judged by; None when it was counted already (a redelivered or concurrent update)."""
        key = self.story_key(story.id)
        if not self.client.hsetnx(key, "early_seen", 1):
            return None
        self.client.hset(key, "early_surprise", f"{surprise:.3f}")
        return story.model_copy(update={"early_seen": True, "early_surprise": surprise})

    # --- the watch state (stories the page budget held) ----------------------------------------
    @property
    def watch_key(self) -> str:
        return f"{self.cfg.key}:watch"

    def hold(self, story: Story, watch: Watch) -> bool:
        """Mark ``story`` as held (kept as first held); True when it was not held before."""
        if not self.client.hsetnx(self.story_key(story.id), "watch", watch.model_dump_json()):
            return False
        pipe = self.client.pipeline(transaction=False)
        pipe.zadd(self.watch_key, {story.id: watch.since})
        pipe.zremrangebyscore(self.watch_key, "-inf", watch.since - self.cfg.story_ttl_s)
        pipe.execute()
        return True

    def release(self, story_id: str) -> None:
        """The held story became an alert: no longer on watch (the alert's history says it was)."""
        pipe = self.client.pipeline(transaction=False)
        pipe.hdel(self.story_key(story_id), "watch")
        pipe.zrem(self.watch_key, story_id)
        pipe.execute()

    def watched(self, platform: str | None = None, limit: int = 100) -> list[Story]:
        """Stories on watch, most recently held first (expired ones are dropped from the index). The
        index is read a page at a time until ``limit`` stories of ``platform`` are found or it ends."""
        out: list[Story] = []
        gone: list[str] = []
        page = max(1, limit * 4)
        start = 0
        while len(out) < limit:
            ids = [_d(m) for m in self.client.zrevrange(self.watch_key, start, start + page - 1)]
            for sid, story in zip(ids, self.get_many(ids), strict=True):
                if story is None or story.watch is None:
                    gone.append(sid)
                elif platform is None or story.platform == platform:
                    out.append(story)
            if len(ids) < page:
                break
            start += page
        if gone:
            self.client.zrem(self.watch_key, *gone)
        return out[:limit]
