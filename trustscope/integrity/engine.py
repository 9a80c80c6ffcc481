"""The integrity engine: ingest reviews into shared state, judge them, revise earlier verdicts.

Flow of ``process(batch)``:

1. *Ingest* each new review (a review id already seen is not counted again - at-least-once
   delivery): text skeleton -> MinHash -> LSH bands -> near-duplicate cluster; daily burst group;
   lockstep pairs with the author's recent items; registration cohort; the static per-review
   evidence (account age, rapid posting, rating-text mismatch) goes into the review's record.
   The whole batch takes three round trips (claim + reads, cluster representatives, writes), in
   batch order (see ``_ingest_batch``).
2. Whenever a group's score moves to another level (a cluster reaching 3, 4, 5 members; a burst
   growing; a lockstep pair densifying), all of the group's members are marked for re-judging: this
   is how a campaign's first 19 reviews are revised when its 20th arrives. Levels are coarse, so each
   group triggers O(1) times and the amortised cost per review stays flat as history grows.
3. *Judge* the batch's reviews and the marked ones from the current shared state (detectors ->
   combiner) and store the verdicts with a compare-and-set that bumps the revision only on change.

Nothing that influences a verdict is cached in the process except values of finished days (burst
baselines, weak-account day counts and the weak-share histories built from them: immutable once the
day is over, kept only for the days in use, ``daycache``), so several replicas on one Redis reach the
same verdicts.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

from trustscope.integrity import combiner
from trustscope.integrity.daycache import DayCache
from trustscope.integrity.detectors import (
    Signal,
    burst,
    copied,
    duplicate,
    lockstep,
    mismatch,
    paid_text,
    reviewer,
    weak_rate,
)
from trustscope.integrity.models import ReviewEvent, VerdictUpdate
from trustscope.integrity.paid_head import NAME as PAID_HEAD
from trustscope.integrity.paid_head import heads_of
from trustscope.integrity.store import (
    CLAIM_STALE_S,
    MemoryStore,
    Pair,
    RedisStore,
    Store,
    is_claim,
)

DAY = 86_400
GROUP_TTL = 60 * DAY  # time-bucketed groups expire after this long (bounded memory)
MAX_CANDIDATES = 3  # cluster representatives compared per review
RECENT_KEEP = 8  # recent reviews kept per author
FOUNDER_GAP = 7 * DAY  # a cluster founder this much older than its first copy is the original
WEAK_CACHE = 400_000  # at most this many (platform, class, day) weak/all counts of finished days in process
# ... and only those of the days a batch of the latest days can ask for: the history (days c-56..c-15)
# of a window centred up to 6 days before them, with two days' margin; older ones are read again if needed
WEAK_KEEP_DAYS = 2 * weak_rate.HALF_WINDOW + weak_rate.GAP_DAYS + weak_rate.HISTORY_DAYS + 2
HIST_CACHE = 100_000  # (platform, class, centre day) trimmed weak-share histories kept in process
HIST_KEEP_DAYS = 2 * weak_rate.HALF_WINDOW + 2  # centres a batch asks for: its days - 6 .. its latest day
BASELINE_CACHE = 100_000  # (platform, day, class) burst baselines kept in process ...
BASELINE_KEEP_DAYS = 2  # ... of the latest days (a review judged again later reads its day's from the store)
# An author's attributed copies listed for re-judging when its serial-copier level changes: only the
# latest ones (older copies keep the verdict they had), so the cost of one level change - and the
# list's memory - is bounded however many copies the author has written (docs/integrity.md)
COPIES_KEEP = 16

SentimentFn = Callable[[list[str]], Sequence[Any]]
PaidFn = Callable[[list[str]], Sequence[float | None]]


def pack_record(rec: list[Any]) -> str:
    """Tab-separated record (no JSON quoting: short values keep Redis hashes in listpack form); the
    last column is the verdict state, "-" until the first verdict (see ``store._SET_VERDICTS``)."""
    return "\t".join("" if v is None else str(v).replace("\t", " ") for v in rec) + "\t-"


def unpack_record(raw: str) -> list[Any]:
    """[platform, author, rating, t, cluster, age_days, prior, rapid_n, prob_positive, week, paid_prob,
    copy] with copy = (estimated Jaccard, days since the earlier holder) or None (records written
    before the paid-review head / copy attribution lack those columns: None)."""
    f = raw.split("\t")

    def num(v: str, kind: Any) -> Any:
        return None if v == "" else kind(v)
    cp = None
    if len(f) > 12 and f[11]:
        j, gap = f[11].split(":")
        cp = (int(j) / 1000, float(gap))
    return [f[0], f[1], num(f[2], int), int(f[3]), f[4], num(f[5], float), int(f[6]), int(f[7]),
            num(f[8], float), num(f[9], int), num(f[10], float) if len(f) > 11 else None, cp]


class PairItem(NamedTuple):
    """One of an author's recent items that a new review pairs with (lockstep)."""

    item: str  # lockstep.item_name of the recent review's platform and window
    review_id: str  # the recent review, listed as the pair's first member
    window: int  # the item's window on its grid (lockstep.window_of_item(item), without parsing it)


_WINDOW = lockstep.WINDOW
_HALF_WINDOW = lockstep.WINDOW / 2  # lockstep.window_of: int((t + grid * WINDOW / 2) // WINDOW)


@dataclass(slots=True)
class _Queued:
    """One review's queued writes: what is needed to read its counters back afterwards."""

    ev: ReviewEvent
    cid: str
    founded: bool
    new_extra: bool
    has_sig: bool
    rc: str | None
    day: int
    grid_pairs: list[tuple[int, int, str, list[PairItem]]]
    week: int | None
    author: list[Any]
    weak: bool = False
    copier: bool = False  # the author's serial-copier level changed with this review


def _level(score: float) -> int:
    """Coarse level of a group score: members are re-judged only when it changes."""
    return int(score * 4 + 1e-9)


def _as_prob(value: Any) -> float | None:
    """Accept what a sentiment classifier may return: a float, a dict or an object with prob_positive."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, dict):
        for k in ("prob_positive", "p_positive", "positive"):
            if k in value:
                return float(value[k])
        if "probs" in value:
            return float(value["probs"][1])
    for k in ("prob_positive", "p_positive", "positive"):
        if hasattr(value, k):
            return float(getattr(value, k))
    raise TypeError(f"cannot read a positive-class probability from {type(value).__name__}")


class IntegrityEngine:
    """Fake and coordinated review detection over a shared store."""

    def __init__(self, store: Store, sentiment: SentimentFn | None = None, paid: PaidFn | None = None,
                 paid_threshold: float = paid_text.THRESHOLD, claim_stale_s: int = CLAIM_STALE_S) -> None:
        self.store = store
        self.sentiment = sentiment
        self.paid = paid  # text -> paid-review head probability, for reviews that arrive without one
        self.paid_threshold = paid_threshold
        self.claim_stale_s = claim_stale_s  # a claim older than this was left by a crashed consumer
        # in-process caches of values that no longer change, bucketed by day so that their size
        # stays that of the days in use, however long the stream (trustscope.integrity.daycache)
        self._baselines: DayCache[tuple[str, str], float | None] = DayCache(BASELINE_KEEP_DAYS, BASELINE_CACHE)
        self._weak: DayCache[tuple[str, str], tuple[int, int]] = DayCache(WEAK_KEEP_DAYS, WEAK_CACHE)
        self._hist: DayCache[tuple[str, str], tuple[int, int, int]] = DayCache(HIST_KEEP_DAYS, HIST_CACHE)
        self._latest_day = 0  # the latest review day this engine has ingested

    @classmethod
    def from_redis(cls, client: Any, prefix: str = "ts:int", sentiment: SentimentFn | None = None,
                   **kw: Any) -> IntegrityEngine:
        return cls(RedisStore(client, prefix), sentiment, **kw)

    @classmethod
    def in_memory(cls, sentiment: SentimentFn | None = None, **kw: Any) -> IntegrityEngine:
        return cls(MemoryStore(), sentiment, **kw)

    # ------------------------------------------------------------------------------------ API
    def process(self, batch: list[ReviewEvent]) -> list[VerdictUpdate]:
        """Judge a batch; returns its verdicts plus revisions of earlier reviews it changed."""
        self._fill_sentiment(batch)
        dirty: set[str] = set()
        triggers: list[tuple[str, str]] = []
        pairs: list[tuple[str, str, float]] = []
        self._ingest_batch(batch, triggers, pairs, dirty)
        order = list(dict.fromkeys(ev.id for ev in batch))
        if triggers:
            dirty.update(self._expand(triggers, pairs))
        in_batch = set(order)  # built once: rebuilding it per member cost O(expanded x batch)
        extra = [rid for rid in dirty if rid not in in_batch]
        return self._judge(order, extra)

    def rejudge(self, ids: list[str]) -> list[VerdictUpdate]:
        """Judge these reviews again from the current state; returns those whose verdict changed."""
        return self._judge([], ids)

    def current(self, ids: list[str]) -> list[VerdictUpdate]:
        """Judge these reviews from the current state and return every one (unknown ids are
        skipped). Updates only carry a review when its *verdict* changes; this shows the signals."""
        return self._judge(list(dict.fromkeys(ids)), [])

    # ---------------------------------------------------------------------------- internals
    def _fill_sentiment(self, batch: list[ReviewEvent]) -> None:
        if self.sentiment is not None:
            need = [ev for ev in batch if ev.prob_positive is None and ev.rating is not None and ev.text]
            out = self.sentiment([ev.text for ev in need]) if need else []
            for ev, value in zip(need, out):
                ev.prob_positive = _as_prob(value)
                heads = heads_of(value)  # a classifier that runs the paid-review head itself
                if ev.paid_prob is None and heads and heads.get(PAID_HEAD) is not None:
                    ev.paid_prob = float(heads[PAID_HEAD])
        if self.paid is not None:
            need = [ev for ev in batch if ev.paid_prob is None and ev.text]
            if need:
                for ev, p in zip(need, self.paid([ev.text for ev in need])):
                    ev.paid_prob = None if p is None else float(p)

    def _ingest_batch(self, batch: list[ReviewEvent], triggers: list[tuple[str, str]],
                      pairs: list[tuple[str, str, float]], direct: set[str]) -> None:
        """Ingest a batch in three round trips to the store, whatever its size.

        Why batched: with one review at a time, three round trips per review made the client's
        command packing and the server's per-call overhead the main cost (2.5 pipelines a review).
        The reviews are still applied in order: what an earlier review of the batch wrote and a
        later one reads (LSH bands, cluster representatives, author state) is carried in local
        overlays, and the writes run in one pipeline in batch order, so every counter a review
        reads back (cluster size, burst count, lockstep pairs) is exactly what it was one by one.
        """
        # 1. claim each review and read its LSH bands and author state (a claim left by a consumer
        #    that crashed before step 3 is taken over after store.CLAIM_STALE_S, so a redelivered
        #    batch is ingested, while a review whose record is written is never counted twice)
        prepared: list[tuple[ReviewEvent, Any, list[str], Any, list[bytes]]] = []
        p = self.store.pipe()
        for ev in batch:
            skel = duplicate.skeleton(ev.text)
            sig = duplicate.signature(skel) if len(skel) >= duplicate.MIN_SKELETON else None
            bands = duplicate.band_keys(sig, ev.platform) if sig is not None else []
            csig = copied.signature(ev.text, skel)
            cbands = copied.band_keys(csig) if csig is not None else []
            p.claim(ev.id, self.claim_stale_s)
            p.hmget_multi([("lsh", b) for b in bands] + [("cpb", b) for b in cbands] + [("au", ev.author_id)])
            prepared.append((ev, sig, bands, csig, cbands))
        looked = p.execute() if prepared else []

        # 2. representatives of every stored cluster the batch's bands point at, and the copy-index
        #    entries of the earlier holders of the batch's global bands
        stored = list(dict.fromkeys(c for n, pr in enumerate(prepared) if looked[2 * n]
                                    for c in looked[2 * n + 1][:len(pr[2])] if c))
        holder_ids = list(dict.fromkeys(h for n, pr in enumerate(prepared) if looked[2 * n]
                                        for h in looked[2 * n + 1][len(pr[2]):-1] if h))
        reps: dict[str, list[Any]] = {}
        holders: dict[str, bytes] = {}
        if stored or holder_ids:
            p = self.store.pipe()
            for c in stored:
                p.hget_raw("rep", c)
                p.hget_raw("rpx", c)
            for h in holder_ids:
                p.hget_raw("cph", h)
            got = p.execute()
            reps = {c: [got[2 * n], got[2 * n + 1]] for n, c in enumerate(stored)}
            holders = {h: _raw(v) for h, v in zip(holder_ids, got[2 * len(stored):]) if v}

        # 3. all writes in one pipeline, in batch order; then read back each review's counters
        bands_new: dict[str, str] = {}  # band -> cluster set by an earlier review of this batch
        cbands_new: dict[bytes, str] = {}  # global band -> holder set by an earlier review of this batch
        authors: dict[str, list[Any]] = {}  # author state after an earlier review of this batch
        p = self.store.pipe()
        queued: list[tuple[int, _Queued]] = []
        for n, (ev, sig, bands, csig, cbands) in enumerate(prepared):
            if not looked[2 * n]:
                continue  # already ingested: at-least-once redelivery, do not count twice
            row = looked[2 * n + 1]
            band_hits, au_raw = row[:len(bands)], row[-1]
            band_hits = [hit or bands_new.get(b) for b, hit in zip(bands, band_hits)]
            cband_hits = [hit or cbands_new.get(b) for b, hit in zip(cbands, row[len(bands):-1])]
            author = authors.get(ev.author_id)
            if author is None:
                author = orjson.loads(au_raw) if au_raw else [0, []]
            start = p.queued()
            q = self._queue_writes(p, ev, sig, bands, band_hits, author, reps, csig, cbands, cband_hits, holders)
            for b in bands:
                bands_new.setdefault(b, q.cid)
            if csig is not None:
                for b in cbands:
                    cbands_new.setdefault(b, copied.holder_id(ev.id))
            authors[ev.author_id] = q.author
            queued.append((start, q))
        res = p.execute() if queued else []
        self._prefetch_baselines({(q.ev.platform, q.day, q.rc) for _, q in queued if q.rc is not None})
        for start, q in queued:
            self._read_counters(q, res[start:], triggers, pairs)
            if q.copier:
                triggers.append(("cpa", q.ev.author_id))
                direct.update(r[2] for r in q.author[1] if r[2])
        self._weak_triggers([q for _, q in queued], triggers)

    def _queue_writes(self, p: Any, ev: ReviewEvent, sig: Any, bands: list[str], band_hits: list[Any],
                      author: list[Any], reps: dict[str, list[Any]], csig: Any = None,
                      cbands: list[bytes] | None = None, cband_hits: list[Any] | None = None,
                      holders: dict[str, bytes] | None = None) -> _Queued:
        """Queue one review's writes on ``p``; ``reps`` is updated for later reviews of the batch."""
        # --- near-duplicate cluster (per platform): join the most similar candidate cluster
        cid, founded, new_extra = "", False, b""
        if sig is not None:
            cands = list(dict.fromkeys(c for c in band_hits if c))[:MAX_CANDIDATES]
            best = 0.0
            for c in cands:
                first, extra = reps.get(c, (None, None))
                if not first:
                    continue
                rep_list = [first] + duplicate.split_reps(extra or b"")
                j = max(duplicate.jaccard_compact(sig, r) for r in rep_list)
                if j >= duplicate.MATCH_JACCARD and j > best:
                    best, cid = j, c
                    # a member unlike every stored representative widens the cluster's reach
                    new_extra = (extra or b"") + duplicate.compact(sig) \
                        if j < duplicate.NEW_REP_BELOW and len(rep_list) < duplicate.MAX_REPS else b""
            if not cid:
                cid = duplicate.cluster_id(ev.id)
                founded = True
                reps[cid] = [duplicate.compact(sig), None]  # also this review's stored representative
            elif new_extra:
                reps[cid] = [reps[cid][0], new_extra]

        # --- static evidence kept in the record (signals are recomputed from it when judging)
        t = ev.created_at
        day = int(t // DAY)
        rc = burst.rating_class(ev.rating)
        age_days = None if ev.author_created_at is None else round(max(0.0, (t - ev.author_created_at) / DAY), 1)
        seen_before = int(author[0])
        prior = seen_before if ev.author_review_count is None else max(seen_before, ev.author_review_count - 1)
        recent = [r for r in author[1] if t - r[0] <= lockstep.RECENT_SPAN]
        rapid_n = 1
        for r in recent:
            if 0 <= t - r[0] <= DAY:
                rapid_n += 1
        week = None
        if age_days is not None and age_days >= reviewer.AGED_DAYS:
            week = int(ev.author_created_at // reviewer.COHORT_WEEK)  # type: ignore[operator]
        pp = None if ev.prob_positive is None else round(float(ev.prob_positive), 3)
        paid = None if ev.paid_prob is None else round(float(ev.paid_prob), 3)
        # --- copy attribution: the best earlier holder (another author) of the text's global bands
        copy_col = ""
        if csig is not None and holders is not None:
            best_copy: tuple[float, float] | None = None
            for h in list(dict.fromkeys(x for x in (cband_hits or []) if x))[:MAX_CANDIDATES]:
                m = copied.match(csig, holders.get(h, b""), t, ev.author_id)
                if m is not None and (best_copy is None or m[0] > best_copy[0]):
                    best_copy = m
            if best_copy is not None:
                copy_col = f"{round(best_copy[0] * 1000)}:{best_copy[1]:.1f}"
        record = [ev.platform, ev.author_id, ev.rating, int(t), cid, age_days, prior, rapid_n, pp, week, paid,
                  copy_col]
        polar = rc is not None

        # --- lockstep pairs (an item the author reviewed recently, this item), on each grid;
        #     an author counts once per pair. The windows are computed inline (lockstep.window_of's
        #     formula): this scan is the part of a review's work that grows as its author's recent
        #     list fills, so it is what makes a month-old state dearer than a new one (docs/benchmarks.md,
        #     "Integrity, tenth session").
        grid_pairs: list[tuple[int, int, str, list[PairItem]]] = []
        platform = ev.platform
        for g in lockstep.GRIDS:
            off = g * _HALF_WINDOW
            w_now = int((t + off) // _WINDOW)
            js: list[PairItem] = []
            seen_items: list[tuple[str, int]] = []  # (platform, window): at most RECENT_ITEMS of them
            already = False
            for r in reversed(recent):
                w_r = int((r[0] + off) // _WINDOW)
                if w_r == w_now and r[1] == platform:
                    already = True
                    break
                # pairs of polar (1-2, 4-5 star) reviews only, with the latest RECENT_ITEMS items (past
                # them the scan only looks for `already`: a mature author's list holds up to RECENT_KEEP)
                if polar and r[2] and len(js) < lockstep.RECENT_ITEMS:
                    key = (r[1], w_r)
                    if key not in seen_items:
                        seen_items.append(key)
                        js.append(PairItem(lockstep.item_name(r[1], g, w_r), r[2], w_r))
            if not already:
                grid_pairs.append((g, w_now, lockstep.item_name(platform, g, w_now), js))

        p.hset("rec", ev.id, pack_record(record))
        if sig is not None:
            p.hsetnx_multi([("lsh", b, cid) for b in bands])
            if founded:
                p.hset("rep", cid, reps[cid][0])
                p.hset("clf", cid, ev.id)
            else:
                if new_extra:
                    p.hset("rpx", cid, new_extra)
                p.group_add("cl", cid, ev.id, mode="founder")
        if rc is not None:
            p.group_add(f"t/bu/{day}", f"{ev.platform}|{rc}", ev.id, ttl=GROUP_TTL)
            p.hsetnx("pf", ev.platform, str(day))
        for g, w, item, js in grid_pairs:  # one operation a grid: the item's count, its pairs, their items' counts
            p.pairs_add(f"t/li/{g}/{w}", item, f"t/lp/{g}/{w}",
                        [Pair(f"{j}>{platform}", f"{j_rid},{ev.id}", f"t/li/{g}/{w_j}", j)
                         for j, j_rid, w_j in js], ttl=GROUP_TTL)
        if week is not None:
            p.group_add(f"t/co/{lockstep.window_of(t, 0)}", f"{ev.platform}|{week}", ev.id, ttl=GROUP_TTL,
                        mode="drop")
        recent.append([int(t), ev.platform, ev.id if polar else ""])  # only polar ones form pairs
        copies = int(author[2]) if len(author) > 2 else 0  # the author's reviews that copy others'
        copies += 1 if copy_col else 0
        state = [seen_before + 1, recent[-RECENT_KEEP:]] + ([copies] if copies else [])
        p.hset("au", ev.author_id, orjson.dumps(state))
        # --- written after everything _read_counters reads back (its positions stay as they were)
        if sig is not None and not founded:
            p.hsetnx("clj", cid, str(int(t)))  # the first copy's time: is the founder the original?
        if csig is not None and cbands:
            hid = copied.holder_id(ev.id)
            p.hsetnx_multi([("cpb", b, hid) for b in cbands])
            if holders is not None and not all(cband_hits or []):  # holds at least one band: index it
                holders[hid] = copied.pack_holder(csig, t, ev.author_id)
                p.hset("cph", hid, holders[hid])
        weak = polar and weak_rate.is_weak(age_days, prior)
        if polar:
            p.hincrby(f"t/wr/{day}", f"{ev.platform}|{rc}|n", 1, ttl=GROUP_TTL)
            if weak:
                p.hincrby(f"t/wr/{day}", f"{ev.platform}|{rc}|w", 1, ttl=GROUP_TTL)
                p.group_add(f"t/wk/{day}", f"{ev.platform}|{rc}", ev.id, ttl=GROUP_TTL)
        copier = False
        if copy_col:  # a serial copier's copies are re-judged when its level changes (and its recent ones)
            p.group_add("cpa", ev.author_id, ev.id, keep_last=COPIES_KEEP)
            was = copied.serial(copies - 1, seen_before).score
            copier = _level(copied.serial(copies, seen_before + 1).score) != _level(was)
        return _Queued(ev, cid, founded, bool(new_extra), sig is not None, rc, day, grid_pairs, week, state,
                       weak, copier)

    def _read_counters(self, q: _Queued, res: list[Any], triggers: list[tuple[str, str]],
                       pairs: list[tuple[str, str, float]]) -> None:
        """Which groups changed level with this review: their members must be judged again."""
        ev = q.ev
        pos = 1
        if q.has_sig:
            pos += 1 + (2 if q.founded else 1 if q.new_extra else 0)
            if not q.founded:
                n = res[pos] + 1
                pos += 1
                if _level(duplicate.score(n).score) != _level(duplicate.score(n - 1).score):
                    triggers.append(("cl", q.cid))
        if q.rc is not None:
            k = res[pos]
            pos += 2
            lam = self._baseline(ev.platform, q.day, q.rc)
            if _level(burst.score(k, lam, q.rc).score) != _level(burst.score(k - 1, lam, q.rc).score):
                triggers.append((f"t/bu/{q.day}", f"{ev.platform}|{q.rc}"))
        for g, w, _item, js in q.grid_pairs:
            got = res[pos]  # the item's count, then per pair: its count and the other item's count
            pos += 1
            for pj, c, n_j in zip(js, got[1::2], got[2::2]):
                if c < lockstep.MIN_PAIR_AUTHORS:  # both counts score 0: no level can change
                    continue
                j = pj.item
                smaller = min(got[0], int(n_j or 1))
                s_now = lockstep.pair_score(c, smaller)
                if _level(s_now) != _level(lockstep.pair_score(c - 1, smaller)):
                    triggers.append((f"t/lp/{g}/{w}", f"{j}>{ev.platform}"))
                    if s_now >= lockstep.DENSE:
                        pairs.append((f"t/lp/{g}/{w}", f"{j}>{ev.platform}", s_now))
        if q.week is not None:
            c = res[pos]
            if 4 <= c <= 10:  # the cohort score's ramp; beyond it the level no longer changes
                triggers.append((f"t/co/{lockstep.window_of(ev.created_at, 0)}", f"{ev.platform}|{q.week}"))

    def _baseline(self, platform: str, day: int, rc: str) -> float | None:
        bucket = self._baselines.bucket(day)
        if bucket is not None and (platform, rc) in bucket:
            return bucket[(platform, rc)]
        return self._prefetch_baselines({(platform, day, rc)})[(platform, day, rc)]

    def _prefetch_baselines(self, cells: set[tuple[str, int, str]]) -> dict[tuple[str, int, str], float | None]:
        """Read the burst baselines of ``cells`` (platform, day, rating class) that are not cached,
        all in one round trip. Why: a stream with many platforms asks for a new (platform, day)
        baseline every second review or so, and a round trip each cost more client CPU than the
        read itself (with the script check below, -12.6% engine CPU per review: docs/benchmarks.md,
        "Integrity, ninth session"). Callers prefetch a batch's
        cells right before the loop that reads them, with no write in between, so every value is
        the one the loop would have read itself. Returns the values it read (the cache may drop
        some at once when it is over its entry cap)."""
        todo = []
        for platform, day, rc in cells:
            bucket = self._baselines.bucket(day)
            if bucket is None or (platform, rc) not in bucket:
                todo.append((platform, day, rc))
        got: dict[tuple[str, int, str], float | None] = {}
        if not todo:
            return got
        p = self.store.pipe()
        for platform, day, rc in todo:
            days = range(day - burst.HISTORY_DAYS, day)
            p.hmget_multi([("pf", platform)] + [(f"t/bu/{d}:n", f"{platform}|{rc}") for d in days])
        for (platform, day, rc), res in zip(todo, p.execute()):
            first = int(res[0]) if res[0] is not None else day
            counts = [int(c or 0) for d, c in zip(range(day - burst.HISTORY_DAYS, day), res[1:]) if d >= first]
            got[(platform, day, rc)] = lam = burst.baseline(counts)
            self._baselines.put(day, (platform, rc), lam)
        return got

    def _expand(self, triggers: list[tuple[str, str]], pairs: list[tuple[str, str, float]]) -> set[str]:
        """Members of the groups that changed level (and lockstep scores pushed to items/authors)."""
        p = self.store.pipe()
        uniq = list(dict.fromkeys(triggers))
        for name, field in uniq:
            p.group_members(name, field, last=COPIES_KEEP if name == "cpa" else 0)
        res = p.execute()
        out: set[str] = set()
        pair_members: dict[tuple[str, str], list[str]] = {}
        for (name, field), members in zip(uniq, res):
            if name.startswith("t/lp/"):
                ids = [x for m in members for x in m.split(",")]
                pair_members[(name, field)] = ids
                out.update(ids)
            else:
                out.update(members)
        if pairs:
            out.update(self._lockstep_members(pairs, pair_members))
        return out

    def _lockstep_members(self, pairs: list[tuple[str, str, float]],
                          pair_members: dict[tuple[str, str], list[str]]) -> set[str]:
        """Push a dense pair's score to its two items and count it for its member authors.

        An author's lockstep evidence is the number of *distinct* dense pairs it belongs to (see
        ``detectors.lockstep``). When its level changes, the author's reviews that were members of
        dense pairs are judged again.
        """
        member_ids = sorted({rid for name, f, _ in pairs for rid in pair_members.get((name, f), [])})
        p = self.store.pipe()
        p.hmget_multi([("rec", rid) for rid in member_ids])
        recs = {rid: unpack_record(r) for rid, r in zip(member_ids, p.execute()[0]) if r and not is_claim(r)}
        item_best: dict[str, float] = {}
        author_pairs: list[tuple[str, str]] = []
        for name, f, s in pairs:
            g, w = name.split("/")[2:4]
            j_item, i_plat = f.rsplit(">", 1)
            for it in (j_item, f"{i_plat}@{g}:{w}"):
                item_best[it] = max(item_best.get(it, 0.0), s)
            for rid in pair_members.get((name, f), []):
                if rid in recs:
                    author_pairs.append((recs[rid][1], f"{name}|{f}"))
        author_pairs = list(dict.fromkeys(author_pairs))
        member_of = {rid: rec[1] for rid, rec in recs.items()}
        p = self.store.pipe()
        for it, s in item_best.items():
            p.hmax("lsi", it, round(s * 1000))
        for a, f in author_pairs:
            p.hsetnx("lsd", f"{a}|{f}", "1")
        for rid in member_of:
            p.hsetnx("lsdr", rid, "1")
        res = p.execute()[len(item_best):]
        new_pairs = Counter(a for (a, _), new in zip(author_pairs, res[:len(author_pairs)]) if new)
        new_rids = [rid for rid, new in zip(member_of, res[len(author_pairs):]) if new]
        if not new_pairs and not new_rids:
            return set()
        authors = list(new_pairs)
        p = self.store.pipe()
        for a in authors:
            p.hincrby("lsa", a, new_pairs[a])
        p.hmget_multi([("au", a) for a in authors])
        for rid in new_rids:
            p.group_add("lsr", member_of[rid], rid)
        res = p.execute()
        aus = res[len(authors)]
        changed = []
        for n, a in enumerate(authors):
            count, au = res[n], aus[n]
            seen = orjson.loads(au)[0] if au else 1
            before = lockstep.author_score(count - new_pairs[a], seen)
            if _level(lockstep.author_score(count, seen)) != _level(before):
                changed.append(a)
        if not changed:
            return set()
        p = self.store.pipe()
        for a in changed:
            p.group_members("lsr", a)
        return {rid for members in p.execute() for rid in members}

    def _judge(self, order: list[str], extra: list[str]) -> list[VerdictUpdate]:
        ids = order + extra
        if not ids:
            return []
        p = self.store.pipe()
        p.hmget_multi([("rec", rid) for rid in ids])
        raw = p.execute()[0]
        recs = [(rid, unpack_record(r)) for rid, r in zip(ids, raw) if r is not None and not is_claim(r)]
        lookups: list[tuple[str, str]] = []
        for rid, rec in recs:
            platform, author, rating, t, cid = rec[:5]
            day, rc = t // DAY, burst.rating_class(rating)
            w0, w1 = lockstep.window_of(t, 0), lockstep.window_of(t, 1)
            item0 = f"{platform}@0:{w0}"
            lookups += [
                ("cl:n", cid) if cid else ("none", "-"),
                (f"t/bu/{day}:n", f"{platform}|{rc}") if rc else ("none", "-"),
                ("lsi", item0), ("lsi", f"{platform}@1:{w1}"), ("lsa", author), ("au", author),
                (f"t/co/{w0}:n", f"{platform}|{rec[9]}") if rec[9] is not None else ("none", "-"),
                (f"t/li/0/{w0}", item0),
                ("clj", cid) if cid and cid == duplicate.cluster_id(rid) else ("none", "-"),
            ]
        p = self.store.pipe()
        p.hmget_multi(lookups)
        stats = p.execute()[0]
        weak_counts = self._weak_window_counts([rec for _, rec in recs])
        self._prefetch_baselines({(rec[0], rec[3] // DAY, rc) for _, rec in recs
                                  if (rc := burst.rating_class(rec[2])) is not None})
        judged: list[tuple[str, str, float, list[str], dict[str, float]]] = []
        for n, (rid, rec) in enumerate(recs):
            signals = self._signals(rec, stats[n * 9:(n + 1) * 9], weak_counts)
            verdict, prob, reasons, scores = combiner.combine(signals)
            judged.append((rid, verdict, prob, reasons, scores))
        p = self.store.pipe()
        p.set_verdicts([(rid, verdict, prob) for rid, verdict, prob, _, _ in judged])
        codes = p.execute()[0]
        first = set(order)
        out: list[VerdictUpdate] = []
        for (rid, verdict, prob, reasons, scores), code in zip(judged, codes):
            if code < 0:
                continue
            rev, changed = code >> 1, code & 1
            if rid in first or changed:
                out.append(VerdictUpdate(rid, verdict, prob, reasons, scores, rev))
        return out

    def _signals(self, rec: list[Any], stats: list[Any],
                 weak_counts: dict[tuple[str, str, int], tuple[int, int, int, int]] | None = None) -> list[Signal]:
        platform, _, rating, t, _, age_days, prior, rapid_n, pp, week, paid, cp = rec
        n_cl, k, lsi0, lsi1, lsa, au, n_co, n_item, clj = stats
        rc = burst.rating_class(rating)
        original = clj is not None and int(clj) - t >= FOUNDER_GAP  # founder older than its first copy
        sigs = [
            duplicate.score(1 if original else int(n_cl) + 1 if n_cl else 1),
            copied.score(*(cp or (None, None))),
            reviewer.account(age_days, prior),
            reviewer.rapid(int(rapid_n)),
            mismatch.score(rating, pp),
        ]
        if paid is not None:
            sigs.append(paid_text.score(paid, self.paid_threshold))
        if rc:
            sigs.append(burst.score(int(k or 0), self._baseline(platform, t // DAY, rc), rc))
        ls_item = max(int(lsi0 or 0), int(lsi1 or 0)) / 1000
        au_state = orjson.loads(au) if au else [1, []]
        ls_author = lockstep.author_score(int(lsa), au_state[0]) if lsa else 0.0
        sigs.append(lockstep.score(ls_item, ls_author))
        if len(au_state) > 2:
            sigs.append(copied.serial(int(au_state[2]), int(au_state[0])))
        if week is not None:
            sigs.append(reviewer.cohort(int(n_co or 0), int(n_item or 1)))
        if rc and weak_counts is not None and weak_rate.is_weak(age_days, prior):
            c = weak_counts.get((platform, rc, t // DAY))
            if c is not None:
                sigs.append(weak_rate.score(True, *c[:5], rc, *c[5:]))
        return sigs

    # ------------------------------------------------------------------ weak-account share
    def _day_counts(self, keys: set[tuple[str, str, int]]) -> dict[tuple[str, str, int], tuple[int, int]]:
        """(weak, all) polar reviews per (platform, class, day); finished days come from the cache."""
        out: dict[tuple[str, str, int], tuple[int, int]] = {}
        need = []
        cache = self._weak
        for key in keys:
            c = cache.get(key[2], key[:2])
            if c is not None:
                out[key] = c
            else:
                need.append(key)
        if need:
            p = self.store.pipe()
            p.hmget_multi([f for pf, rc, d in need for f in ((f"t/wr/{d}", f"{pf}|{rc}|w"),
                                                                (f"t/wr/{d}", f"{pf}|{rc}|n"))])
            res = p.execute()[0]
            finished = self._latest_day - 1
            for n, key in enumerate(need):
                c = (int(res[2 * n] or 0), int(res[2 * n + 1] or 0))
                out[key] = c
                if key[2] < finished:  # finished (with a day's margin for late reviews)
                    cache.put(key[2], key[:2], c)
        return out

    def _histories(self, cells: set[tuple[str, str, int]]) -> tuple[dict[tuple[str, str, int], tuple[int, int, int]],
                                                                     set[tuple[str, str, int]]]:
        """The trimmed weak-share history (``weak_rate.history``) of each (platform, class, centre)
        that the cache holds, and the day counts the others need (``_finish_histories`` computes them).

        Why cached: a centre's history days (d-56..d-15) are finished, so its trimmed history - a sort
        of 42 days - is the same every time a batch asks for it, and a platform's cells are asked
        for by every batch of the day (docs/benchmarks.md, "Integrity, fifth session")."""
        got: dict[tuple[str, str, int], tuple[int, int, int]] = {}
        need: set[tuple[str, str, int]] = set()
        for pf, rc, c in cells:
            h = self._hist.get(c, (pf, rc))
            if h is not None:
                got[(pf, rc, c)] = h
            else:
                need.update((pf, rc, d) for d in weak_rate.history_days(c))
        return got, need

    def _finish_histories(self, cells: set[tuple[str, str, int]], got: dict[tuple[str, str, int], tuple[int, int, int]],
                          counts: dict[tuple[str, str, int], tuple[int, int]]) -> None:
        """Compute the histories ``_histories`` did not have from ``counts`` and cache the finished ones."""
        finished = self._latest_day - 1
        for cell in cells:
            if cell in got:
                continue
            pf, rc, c = cell
            days = weak_rate.history_days(c)
            h = got[cell] = weak_rate.history([counts[(pf, rc, d)] for d in days])
            if days.stop - 1 < finished:  # every day of it is finished: the same whenever asked
                self._hist.put(c, (pf, rc), h)

    @staticmethod
    def _window(counts: dict[tuple[str, str, int], tuple[int, int]], hist: tuple[int, int, int], pf: str, rc: str,
                day: int) -> tuple[int, int, int, int, int, int, int]:
        w_win, n_win = _sum_days(counts, pf, rc, weak_rate.window_days(day))
        w_hist, n_hist, h_days = hist
        w_loc, n_loc = _sum_days(counts, pf, rc, weak_rate.local_days(day))
        return w_win, n_win, w_hist, n_hist, h_days, w_loc, n_loc

    def _weak_window_counts(self, recs: list[list[Any]]
                            ) -> dict[tuple[str, str, int], tuple[int, int, int, int, int, int, int]]:
        cells = {(rec[0], burst.rating_class(rec[2]), rec[3] // DAY) for rec in recs
                 if burst.rating_class(rec[2]) and weak_rate.is_weak(rec[5], rec[6])}
        if not cells:
            return {}
        hist, need = self._histories(cells)  # one store round trip for the windows and missing histories
        counts = self._day_counts(need | {(pf, rc, d) for pf, rc, day in cells for d in weak_rate.window_days(day)})
        self._finish_histories(cells, hist, counts)
        return {(pf, rc, day): self._window(counts, hist[(pf, rc, day)], pf, rc, day) for pf, rc, day in cells}

    def _weak_triggers(self, queued: list[_Queued], triggers: list[tuple[str, str]]) -> None:
        """Weak-share windows whose level this batch changed: their weak members are judged again.

        Only cells (platform, class) that gained a weak review are checked, for window centres
        from 6 days before each such day up to the batch's latest day: reviews arrive in time order,
        so later days have no members yet (a window whose level drops because established reviews
        arrived is revised when its next weak review comes)."""
        inc: Counter = Counter()
        last = 0
        for q in queued:
            if q.rc is not None:
                d = int(q.ev.created_at // DAY)
                last = max(last, d)
                inc[(q.ev.platform, q.rc, d, "n")] += 1
                if q.weak:
                    inc[(q.ev.platform, q.rc, d, "w")] += 1
        if last > self._latest_day:
            self._latest_day = last
            for cache in (self._weak, self._hist, self._baselines):
                cache.advance(last)
        weak_days = [(pf, rc, d) for pf, rc, d, kind in inc if kind == "w"]
        if not weak_days:
            return
        centers = {(pf, rc, c) for pf, rc, d in weak_days for c in range(d - weak_rate.HALF_WINDOW, last + 1)}
        counts = self._day_counts({(pf, rc, d) for pf, rc, c in centers
                                   for d in range(c - weak_rate.HALF_WINDOW, min(c + weak_rate.HALF_WINDOW, last) + 1)})
        before = {k: (v[0] - inc[(*k, "w")], v[1] - inc[(*k, "n")]) for k, v in counts.items()}
        hist_need: list[tuple[str, str, int]] = []
        for pf, rc, c in centers:
            if _sum_days(counts, pf, rc, weak_rate.window_days(c))[0] >= weak_rate.MIN_WEAK:
                hist_need.append((pf, rc, c))  # below it the score is 0 either way
        if not hist_need:
            return
        cells = set(hist_need)
        hists, need = self._histories(cells)
        if need:
            self._finish_histories(cells, hists, self._day_counts(need))
        for pf, rc, c in hist_need:
            h = hists[(pf, rc, c)]
            win, loc = weak_rate.window_days(c), weak_rate.local_days(c)
            now = weak_rate.strength(*_sum_days(counts, pf, rc, win), *h, *_sum_days(counts, pf, rc, loc))[0]
            was = weak_rate.strength(*_sum_days(before, pf, rc, win), *h, *_sum_days(before, pf, rc, loc))[0]
            if _level(now) != _level(was):
                triggers.append((f"t/wk/{c}", f"{pf}|{rc}"))


def _sum_days(counts: dict[tuple[str, str, int], tuple[int, int]], pf: str, rc: str, days: range
              ) -> tuple[int, int]:
    """(weak, all) summed over ``days`` of one (platform, class); a day ``counts`` lacks counts 0.
    One loop instead of a generator per sum: the weak-share checks run it for every window centre
    of a batch's weak days (docs/benchmarks.md, "Integrity, tenth session")."""
    weak = total = 0
    for d in days:
        c = counts.get((pf, rc, d))
        if c is not None:
            weak += c[0]
            total += c[1]
    return weak, total


def _raw(value: Any) -> bytes:
    """Binary store values come back as bytes from Redis and as str/bytes from memory."""
    return value.encode("latin-1") if isinstance(value, str) else value


def fake_prob_to_logit(p: float) -> float:
    """Inverse of the combiner's sigmoid (used by docs/tests to reason about thresholds)."""
    p = min(max(p, 1e-9), 1 - 1e-9)
    return math.log(p / (1 - p))
