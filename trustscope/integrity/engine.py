"""The integrity engine: ingest reviews into shared state, judge them, revise earlier verdicts.

Flow of ``process(batch)``:

1. *Ingest* each new review (a review id already seen is not counted again - at-least-once
   delivery): text skeleton -> MinHash -> LSH bands -> near-duplicate cluster; daily burst group;
   lockstep pairs with the author's recent items; registration cohort; the static per-review
   evidence (account age, rapid posting, rating-text mismatch) goes into the review's record.
2. Whenever a group's score moves to another level (a cluster reaching 3, 4, 5 members; a burst
   growing; a lockstep pair densifying), all of the group's members are marked for re-judging: this
   is how a campaign's first 19 reviews are revised when its 20th arrives. Levels are coarse, so each
   group triggers O(1) times and the amortised cost per review stays flat as history grows.
3. *Judge* the batch's reviews and the marked ones from the current shared state (detectors ->
   combiner) and store the verdicts with a compare-and-set that bumps the revision only on change.

Nothing that influences a verdict is cached in the process except previous days' burst baselines
(immutable once the day is over), so several replicas on one Redis reach the same verdicts.
"""

from __future__ import annotations

import math
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from trustscope.integrity import combiner
from trustscope.integrity.detectors import Signal, burst, duplicate, lockstep, mismatch, reviewer
from trustscope.integrity.models import ReviewEvent, VerdictUpdate
from trustscope.integrity.store import MemoryStore, RedisStore, Store

DAY = 86_400
GROUP_TTL = 60 * DAY  # time-bucketed groups expire after this long (bounded memory)
MAX_CANDIDATES = 3  # cluster representatives compared per review
RECENT_KEEP = 8  # recent reviews kept per author

SentimentFn = Callable[[list[str]], Sequence[Any]]


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

    def __init__(self, store: Store, sentiment: SentimentFn | None = None) -> None:
        self.store = store
        self.sentiment = sentiment
        self._baselines: OrderedDict[tuple[str, int, str], float | None] = OrderedDict()

    @classmethod
    def from_redis(cls, client: Any, prefix: str = "ts:int", sentiment: SentimentFn | None = None
                   ) -> IntegrityEngine:
        return cls(RedisStore(client, prefix), sentiment)

    @classmethod
    def in_memory(cls, sentiment: SentimentFn | None = None) -> IntegrityEngine:
        return cls(MemoryStore(), sentiment)

    # ------------------------------------------------------------------------------------ API
    def process(self, batch: list[ReviewEvent]) -> list[VerdictUpdate]:
        """Judge a batch; returns its verdicts plus revisions of earlier reviews it changed."""
        self._fill_sentiment(batch)
        dirty: set[str] = set()
        triggers: list[tuple[str, str]] = []
        pairs: list[tuple[str, str, float]] = []
        for ev in batch:
            self._ingest(ev, triggers, pairs)
        order = list(dict.fromkeys(ev.id for ev in batch))
        if triggers:
            dirty.update(self._expand(triggers, pairs))
        extra = [rid for rid in dirty if rid not in set(order)]
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
        if self.sentiment is None:
            return
        need = [ev for ev in batch if ev.prob_positive is None and ev.rating is not None and ev.text]
        if not need:
            return
        out = self.sentiment([ev.text for ev in need])
        for ev, value in zip(need, out):
            ev.prob_positive = _as_prob(value)

    def _ingest(self, ev: ReviewEvent, triggers: list[tuple[str, str]],
                pairs: list[tuple[str, str, float]]) -> None:
        skel = duplicate.skeleton(ev.text)
        use_text = len(skel) >= duplicate.MIN_SKELETON
        sig = duplicate.signature(skel) if use_text else None
        bands = duplicate.band_keys(sig) if sig is not None else []

        p = self.store.pipe()
        p.hsetnx("rec", ev.id, b"{}")
        for b in bands:
            p.hget("lsh", b)
        p.hget("au", ev.author_id)
        res = p.execute()
        if not res[0]:
            return  # already ingested: at-least-once redelivery, do not count twice
        band_hits = res[1:1 + len(bands)]
        au_raw = res[1 + len(bands)]
        author = orjson.loads(au_raw) if au_raw else {"n": 0, "r": []}

        # --- near-duplicate cluster
        cid = ""
        new_cluster = False
        add_rep = ""
        if sig is not None:
            cands = list(dict.fromkeys(c for c in band_hits if c))[:MAX_CANDIDATES]
            if cands:
                p = self.store.pipe()
                for c in cands:
                    p.hget("rep", c)
                reps = p.execute()
                best = 0.0
                for c, rep in zip(cands, reps):
                    if not rep:
                        continue
                    parts = rep.split(" ")
                    j = max(duplicate.jaccard_compact(sig, r) for r in parts)
                    if j >= duplicate.MATCH_JACCARD and j > best:
                        best, cid = j, c
                        # a member unlike every stored representative widens the cluster's reach
                        add_rep = rep + " " + duplicate.compact(sig) \
                            if j < duplicate.NEW_REP_BELOW and len(parts) < duplicate.MAX_REPS else ""
            if not cid:
                cid = ev.id
                new_cluster = True

        # --- static evidence kept in the record
        t = ev.created_at
        day = int(t // DAY)
        rc = burst.rating_class(ev.rating)
        age_days = None if ev.author_created_at is None else max(0.0, (t - ev.author_created_at) / DAY)
        seen_before = int(author["n"])
        prior = seen_before if ev.author_review_count is None else max(seen_before, ev.author_review_count - 1)
        recent = author["r"]
        rapid_n = 1 + sum(1 for r in recent if 0 <= t - r[0] <= DAY)
        mm = mismatch.score(ev.rating, ev.prob_positive)
        acct = reviewer.account(age_days, prior)
        items = [lockstep.item_of(ev.platform, t, g) for g in lockstep.GRIDS]
        window = lockstep.window_of(t, 0)
        cohort_key = ""
        if age_days is not None and age_days >= reviewer.AGED_DAYS and ev.author_created_at is not None:
            cohort_key = f"{ev.platform}|{int(ev.author_created_at // reviewer.COHORT_WEEK)}"
        record = {
            "p": ev.platform, "a": ev.author_id, "r": ev.rating, "t": round(t, 1), "c": cid,
            "d": day, "k": rc, "i": items, "w": window, "h": cohort_key,
            "s": [round(acct.score, 3), rapid_n, round(mm.score, 3)],
            "x": [acct.reason, mm.reason],
        }

        # --- lockstep pairs (an item the author reviewed recently, this item), on each grid;
        #     an author counts once per pair
        grid_pairs: list[tuple[int, bool, list[tuple[str, str]]]] = []
        for g, item in zip(lockstep.GRIDS, items):
            js: list[tuple[str, str]] = []
            seen_items = set()
            already = False
            for r in reversed(recent):
                if t - r[0] > lockstep.RECENT_SPAN:
                    continue
                j = lockstep.item_of(r[1], r[0], g)
                if j == item:
                    already = True
                elif j not in seen_items:
                    seen_items.add(j)
                    js.append((j, r[2]))
            grid_pairs.append((g, already, [] if already else js[: lockstep.RECENT_ITEMS]))

        p = self.store.pipe()
        p.hset("rec", ev.id, orjson.dumps(record))
        n_ops = 0
        if sig is not None:
            for b in bands:
                p.hsetnx("lsh", b, cid)
            if new_cluster:
                p.hset("rep", cid, duplicate.compact(sig))
            elif add_rep:
                p.hset("rep", cid, add_rep)
            p.group_add("cl", f"{cid}|{ev.platform}", ev.id)
            n_ops = len(bands) + (1 if new_cluster or add_rep else 0)
        if rc is not None:
            p.group_add(f"t/bu/{day}", f"{ev.platform}|{rc}", ev.id, ttl=GROUP_TTL)
            p.hsetnx("pf", ev.platform, str(day))
        for (g, already, js), item in zip(grid_pairs, items):
            w = lockstep.window_of(t, g)
            if already:
                continue
            p.hincrby(f"t/li/{g}/{w}", item, 1, ttl=GROUP_TTL)
            for j, j_rid in js:
                p.group_add(f"t/lp/{g}/{w}", f"{j}>{item}", f"{j_rid},{ev.id}", ttl=GROUP_TTL)
                p.hget(f"t/li/{g}/{lockstep.window_of_item(j)}", j)
        if cohort_key:
            p.group_add(f"t/co/{window}", cohort_key, ev.id, ttl=GROUP_TTL)
        recent.append([round(t, 1), ev.platform, ev.id])
        author = {"n": seen_before + 1, "r": recent[-RECENT_KEEP:]}
        p.hset("au", ev.author_id, orjson.dumps(author))
        res = p.execute()

        # --- which groups changed level: their members must be judged again
        pos = 1
        if sig is not None:
            pos += n_ops
            n = res[pos]
            pos += 1
            if _level(duplicate.score(n).score) != _level(duplicate.score(n - 1).score):
                triggers.append(("cl", f"{cid}|{ev.platform}"))
        if rc is not None:
            k = res[pos]
            pos += 2
            lam = self._baseline(ev.platform, day, rc)
            if _level(burst.score(k, lam, rc).score) != _level(burst.score(k - 1, lam, rc).score):
                triggers.append((f"t/bu/{day}", f"{ev.platform}|{rc}"))
        for (g, already, js), item in zip(grid_pairs, items):
            if already:
                continue
            w = lockstep.window_of(t, g)
            n_item = res[pos]
            pos += 1
            for j, _ in js:
                c, n_j = res[pos], int(res[pos + 1] or 1)
                pos += 2
                smaller = min(n_item, n_j)
                s_now = lockstep.pair_score(c, smaller)
                if _level(s_now) != _level(lockstep.pair_score(c - 1, smaller)):
                    triggers.append((f"t/lp/{g}/{w}", f"{j}>{item}"))
                    if s_now >= lockstep.DENSE:
                        pairs.append((f"t/lp/{g}/{w}", f"{j}>{item}", s_now))
        if cohort_key:
            c = res[pos]
            pos += 1
            if 4 <= c <= 10:  # the cohort score's ramp; beyond it the level no longer changes
                triggers.append((f"t/co/{window}", cohort_key))

    def _baseline(self, platform: str, day: int, rc: str) -> float | None:
        key = (platform, day, rc)
        if key in self._baselines:
            self._baselines.move_to_end(key)
            return self._baselines[key]
        p = self.store.pipe()
        p.hget("pf", platform)
        for d in range(day - burst.HISTORY_DAYS, day):
            p.group_count(f"t/bu/{d}", f"{platform}|{rc}")
        res = p.execute()
        first = int(res[0]) if res[0] is not None else day
        counts = [int(c or 0) for d, c in zip(range(day - burst.HISTORY_DAYS, day), res[1:]) if d >= first]
        lam = burst.baseline(counts)
        self._baselines[key] = lam
        if len(self._baselines) > 100_000:
            self._baselines.popitem(last=False)
        return lam

    def _expand(self, triggers: list[tuple[str, str]], pairs: list[tuple[str, str, float]]) -> set[str]:
        """Members of the groups that changed level (and lockstep scores pushed to items/authors)."""
        p = self.store.pipe()
        uniq = list(dict.fromkeys(triggers))
        for name, field in uniq:
            p.group_members(name, field)
        res = p.execute()
        out: set[str] = set()
        pair_members: dict[str, list[str]] = {}
        for (name, field), members in zip(uniq, res):
            if name.startswith("t/lp/"):
                ids = [x for m in members for x in m.split(",")]
                pair_members[field] = ids
                out.update(ids)
            else:
                out.update(members)
        if pairs:
            out.update(self._lockstep_members(pairs, pair_members))
        return out

    def _lockstep_members(self, pairs: list[tuple[str, str, float]], pair_members: dict[str, list[str]]
                          ) -> set[str]:
        """Push a dense pair's score to its members' items and count it for its member authors.

        An author's lockstep evidence is the number of *distinct* dense pairs it belongs to: an
        honest reviewer who happened to review two campaign targets shares one pair, a fraud
        account shares one per campaign round. When that number grows, the author's recent reviews
        are judged again.
        """
        member_ids = sorted({rid for _, f, _ in pairs for rid in pair_members.get(f, [])})
        p = self.store.pipe()
        for rid in member_ids:
            p.hget("rec", rid)
        recs = {rid: orjson.loads(r) for rid, r in zip(member_ids, p.execute()) if r and r != "{}"}
        item_best: dict[str, float] = {}
        author_pairs: list[tuple[str, str]] = []
        for _, f, s in pairs:
            for rid in pair_members.get(f, []):
                rec = recs.get(rid)
                if rec is None:
                    continue
                for it in rec["i"]:
                    if f.endswith(">" + it) or f.startswith(it + ">"):
                        item_best[it] = max(item_best.get(it, 0.0), s)
                author_pairs.append((rec["a"], f))
        author_pairs = list(dict.fromkeys(author_pairs))
        member_of = {rid: rec["a"] for rid, rec in recs.items()}
        p = self.store.pipe()
        for it, s in item_best.items():
            p.hmax("lsi", it, int(round(s * 1000)))
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
            p.hget("au", a)
        for rid in new_rids:
            p.group_add("lsr", member_of[rid], rid)
        res = p.execute()
        changed = []
        for n, a in enumerate(authors):
            count, au = res[2 * n], res[2 * n + 1]
            seen = orjson.loads(au)["n"] if au else 1
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
        for rid in ids:
            p.hget("rec", rid)
        raw = p.execute()
        recs: list[tuple[str, dict[str, Any]]] = []
        for rid, r in zip(ids, raw):
            if r is None or r == "{}" or r == b"{}":
                continue
            recs.append((rid, orjson.loads(r)))
        p = self.store.pipe()
        for _, rec in recs:
            if rec["c"]:
                p.group_count("cl", f"{rec['c']}|{rec['p']}")
            else:
                p.hget("none", "none")
            if rec["k"]:
                p.group_count(f"t/bu/{rec['d']}", f"{rec['p']}|{rec['k']}")
            else:
                p.hget("none", "none")
            p.hget("lsi", rec["i"][0])
            p.hget("lsi", rec["i"][1])
            p.hget("lsa", rec["a"])
            p.hget("au", rec["a"])
            if rec["h"]:
                p.group_count(f"t/co/{rec['w']}", rec["h"])
            else:
                p.hget("none", "none")
            p.hget(f"t/li/0/{rec['w']}", rec["i"][0])
        stats = p.execute()
        judged: list[tuple[str, str, float, list[str], dict[str, float]]] = []
        p = self.store.pipe()
        for n, (rid, rec) in enumerate(recs):
            n_cl, k, lsi0, lsi1, lsa, au, n_co, n_item = stats[n * 8:(n + 1) * 8]
            lsa = lockstep.author_score(int(lsa or 0), orjson.loads(au)["n"] if au else 1) if lsa else 0.0
            lsi = max(int(lsi0 or 0), int(lsi1 or 0))
            signals = self._signals(rec, n_cl, k, lsi, lsa, n_co, n_item)
            verdict, prob, reasons, scores = combiner.combine(signals)
            judged.append((rid, verdict, prob, reasons, scores))
            p.set_verdict(rid, verdict, prob)
        res = p.execute()
        first = set(order)
        out: list[VerdictUpdate] = []
        for (rid, verdict, prob, reasons, scores), code in zip(judged, res):
            rev, changed = code >> 1, code & 1
            if rid in first or changed:
                out.append(VerdictUpdate(rid, verdict, prob, reasons, scores, rev))
        return out

    def _signals(self, rec: dict[str, Any], n_cl: Any, k: Any, lsi: Any, lsa: Any, n_co: Any,
                 n_item: Any) -> list[Signal]:
        acct_s, rapid_n, mm_s = rec["s"]
        acct_reason, mm_reason = rec["x"]
        sigs = [
            duplicate.score(int(n_cl or 1)),
            Signal("new_account", acct_s, acct_reason),
            reviewer.rapid(int(rapid_n)),
            Signal("rating_text_mismatch", mm_s, mm_reason),
        ]
        if rec["k"]:
            lam = self._baseline(rec["p"], rec["d"], rec["k"])
            sigs.append(burst.score(int(k or 0), lam, rec["k"]))
        ls_item = int(lsi) / 1000
        sigs.append(lockstep.score(ls_item, float(lsa)))
        if rec["h"]:
            sigs.append(reviewer.cohort(int(n_co or 0), int(n_item or 1)))
        return sigs


def fake_prob_to_logit(p: float) -> float:
    """Inverse of the combiner's sigmoid (used by docs/tests to reason about thresholds)."""
    p = min(max(p, 1e-9), 1 - 1e-9)
    return math.log(p / (1 - p))
