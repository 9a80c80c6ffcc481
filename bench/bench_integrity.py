"""Integrity engine benchmark: throughput of the non-model signals, cost vs history, Redis memory.

Streams synthetic review traffic (real texts from the shared corpus when present, else the built-in
grammar; ~2,000 platforms with Zipf popularity, a 300k-author pool plus newcomers, 3,000 reviews a
day, a templated 100-review campaign every 20k reviews so revisions happen) through one engine,
and at each checkpoint of history size prints the cost per review of the next window (wall time
and the engine process' CPU time; on Redis also the server's CPU time) and, on Redis, the memory
the state takes (``used_memory`` minus the empty server's).

    python bench/bench_integrity.py --backend memory --reviews 100000
    python bench/bench_integrity.py --backend redis --reviews 300000 --start-redis
    python bench/bench_integrity.py --backend redis --redis-url redis://127.0.0.1:6399/0 --prefix bench
    python bench/bench_integrity.py --false-match      # copy attribution on honest corpus texts

Run one at a time on a shared machine. Time-bucketed groups expire by *wall-clock* TTL (60 days),
so in a replay nothing would expire; by default (``--expire stream``) the bench removes them by the
stream's clock as that TTL would in production (``--expire wall``: the old upper bound).
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import gc
import hashlib
import json
import os
import random
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from trustscope.integrity import (
    IntegrityEngine,
    ReviewEvent,
    textpool,
)

DAY = 86_400.0
START = 1_735_689_600.0


def _rid(i: int) -> str:
    """Review ids shaped like production ones (32 hex characters, trustscope.ids.document_id)."""
    return hashlib.sha256(str(i).encode()).hexdigest()[:32]


@functools.lru_cache(maxsize=1)
def _markov_chains(order: int, start: str, end: str) -> tuple[list[dict[str, list[str]]], list[list[int]]]:
    """Per label: context -> following characters (with repeats, so a uniform pick is the chain's
    probability), and the pool's text lengths. Built once per process (~5 s on the corpus)."""
    pools = textpool.corpus_texts()
    if pools is None:
        draw = random.Random(0)
        pools = tuple(tuple(textpool._builtin_honest(label, draw) for _ in range(20_000)) for label in (0, 1))
    chains: list[dict[str, list[str]]] = []
    lengths: list[list[int]] = []
    for pool in pools:
        chain: dict[str, list[str]] = {}
        for text in pool:
            s = start * order + text + end
            for i in range(order, len(s)):
                chain.setdefault(s[i - order:i], []).append(s[i])
        chains.append(chain)
        lengths.append([len(t) for t in pool])
    return chains, lengths


class NovelTexts:
    """Honest texts that do not recur: each is *generated*, character by character, by an order-2
    Markov chain fitted on the pool's texts of the same label (the corpus when present, else
    20,000 draws of the built-in grammar), with the length of a random pool text.

    What it models: a production stream in which honest reviews are written by their authors, so
    two reviews by different people share words and short phrases of the domain ("物流很快",
    "质量不错") but never a whole clause set. Read as text it is fluent-looking nonsense
    ("物流太赞了！倒过来100元，再追评吧！"); what the engine sees of it - character bigrams, the
    clause structure, the length distribution, the label's vocabulary - is that of real reviews.
    Measured (100k generated texts in one copy index, each by its own author): 1 of 74,362 indexed
    texts matches an earlier one at estimated Jaccard >= 0.6 (the corpus' own real texts: 0.69%,
    ``--false-match``), and 99.99% of the texts are distinct. Generating one costs ~40 µs, which the
    benchmark measures and leaves out of the engine's CPU time."""

    ORDER = 2
    START, END = "\x02", "\x03"

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.chains, self.lengths = _markov_chains(self.ORDER, self.START, self.END)

    def draw(self, label: int) -> str:
        chain, choice = self.chains[label], self.rng.choice
        n = choice(self.lengths[label])
        ctx = self.START * self.ORDER
        out: list[str] = []
        while len(out) < n:
            ch = choice(chain[ctx])
            if ch == self.END:  # a pool text ended here: stop if long enough, else start a new sentence
                if len(out) >= n // 2:
                    break
                ctx = self.START * self.ORDER
                continue
            out.append(ch)
            ctx = ctx[1:] + ch
        return "".join(out)


TEXT_MODES = ("unique", "copies", "joined", "pool")
COPIER_SHARE = 0.06  # "copies": share of reviews written by the copier accounts
COPIERS = 1_000  # ... how many accounts (aged 1-3 years)
COPY_RATE = 0.3  # ... share of a copier's reviews that copy an earlier review of another author
RESERVOIR = 20_000  # ... copied from the latest texts of other authors


def stream(n: int, seed: int = 0, per_day: int = 3000, platforms: int = 2000,
           texts_mode: str = "pool", unique_texts: bool = False) -> Iterator[ReviewEvent]:
    """The benchmark's reviews. ``texts_mode``:

    * ``pool``: honest texts drawn from the pool (~63k corpus texts, so they repeat after ~100k
      reviews and the text indices stop growing, unlike production);
    * ``joined``: two pool texts of the same label joined (before 2026-12-01's third session this
      was ``--unique-texts``): no text repeats, but clauses do - by 300k, 45% of new "honest"
      reviews repeat another author's clause set and are attributed as copies;
    * ``unique``: generated texts that do not recur (``NovelTexts``): what production pays when
      honest reviews are written by their authors;
    * ``copies``: ``unique`` plus a steady share of copying: ``COPIERS`` aged accounts write
      ``COPIER_SHARE`` of the reviews, ``COPY_RATE`` of them verbatim or lightly edited copies of
      an earlier text of another author (from a reservoir of ``RESERVOIR`` texts, replaced at random
      so mostly recent ones; the rest their own texts), so about
      1.8% of all reviews are copies and every copier's share of copies hovers around the
      serial-copier ramp (the worst case for re-judging: its level moves both ways).

    ``unique_texts=True`` is ``unique`` (it meant ``joined`` before)."""
    if unique_texts and texts_mode == "pool":
        texts_mode = "unique"
    rng = random.Random(seed)
    texts = textpool.HonestTexts(random.Random(seed + 1))
    novel = NovelTexts(random.Random(seed + 2)) if texts_mode in ("unique", "copies") else None
    copy_rng = random.Random(seed + 3)
    recent: list[tuple[str, str]] = []  # (author, text) of the latest reviews, for copiers to copy
    copier_created = [START - copy_rng.uniform(365, 1095) * DAY for _ in range(COPIERS)]
    plat_w = [1.0 / (i + 1) ** 0.8 for i in range(platforms)]
    plat_cum = []
    acc = 0.0
    for w in plat_w:
        acc += w
        plat_cum.append(acc)
    authors = 300_000
    created = [START - rng.uniform(30, 1500) * DAY for _ in range(authors)]
    step = DAY / per_day
    t = START
    i = 0
    newcomer = 0
    while i < n:
        if i and i % 20_000 == 0:  # a templated campaign: 100 reviews within ~3 hours
            tpl = rng.choice(textpool.TEMPLATES)
            target = f"plat-{rng.randrange(50)}"
            for k in range(min(100, n - i)):
                t += step / 10
                newcomer += 1
                yield ReviewEvent(id=_rid(i), platform=target, author_id=f"n{newcomer}", rating=5,
                                  text=textpool.fill_template(tpl, "稳盈宝", rng), created_at=t,
                                  author_created_at=t - DAY, author_review_count=1, prob_positive=0.97)
                i += 1
            continue
        t += rng.expovariate(1 / step)
        x = rng.random() * acc
        lo, hi = 0, platforms - 1
        while lo < hi:  # bisect the Zipf cumulative weights
            mid = (lo + hi) // 2
            if plat_cum[mid] < x:
                lo = mid + 1
            else:
                hi = mid
        label = 1 if rng.random() < 0.6 else 0
        rating = (5 if rng.random() < 0.7 else 4) if label else (1 if rng.random() < 0.6 else 2)
        if rng.random() < 0.25:
            newcomer += 1
            author, a_created, prior = f"n{newcomer}", t - rng.uniform(0, 3) * DAY, 1
        else:
            a = min(authors - 1, int(rng.paretovariate(1.2)) - 1 + rng.randrange(authors) // 50)
            author, a_created, prior = f"u{a}", created[a], 5
        if novel is not None:
            text = novel.draw(label)
        else:
            text = texts.draw(label)
            if texts_mode == "joined":
                text = text.rstrip("。！!~～. ") + "，" + texts.draw(label)
        if texts_mode == "copies":
            if copy_rng.random() < COPIER_SHARE:
                c = copy_rng.randrange(COPIERS)
                author, a_created, prior = f"c{c}", copier_created[c], 5
                if recent and copy_rng.random() < COPY_RATE:
                    src_author, src = recent[copy_rng.randrange(len(recent))]
                    if src_author != author:
                        text = src if copy_rng.random() < 0.5 else textpool.light_edit(src, copy_rng)
            if len(recent) < RESERVOIR:
                recent.append((author, text))
            else:
                recent[copy_rng.randrange(RESERVOIR)] = (author, text)
        yield ReviewEvent(id=_rid(i), platform=f"plat-{lo}", author_id=author, rating=rating,
                          text=text, created_at=t, author_created_at=a_created,
                          author_review_count=prior, prob_positive=0.95 if label else 0.05)
        i += 1


def reference_cost(engine: IntegrityEngine, texts_mode: str, history: int = 10_000, window: int = 5000,
                   batch: int = 256, split: dict | None = None) -> float:
    """Engine CPU µs per review of the window after ``history`` reviews, on a fresh engine, now.

    Why: on a shared machine the CPU time of the same work moves with the load (cache and core
    sharing: +-20-50% within an hour here), so a window at 300k history measured at load 13 and the
    10k window measured an hour earlier at load 7 do not compare. Measuring the 10k window again
    right after each checkpoint's window, under the same load, gives a ratio the load does not skew."""
    it = stream(history + window, texts_mode=texts_mode)
    done, gen, c0 = 0, 0.0, 0.0
    buf: list[ReviewEvent] = []
    while True:
        g0 = time.process_time()
        ev = next(it, None)
        gen += time.process_time() - g0
        if ev is not None:
            buf.append(ev)
        if len(buf) >= batch or (ev is None and buf):
            engine.process(buf)
            done += len(buf)
            buf = []
            if done >= history and not c0:
                c0, gen = time.process_time(), 0.0
                ru0 = resource.getrusage(resource.RUSAGE_SELF)
                start = done
        if ev is None:
            break
    n = max(1, done - start)
    if split is not None:  # user (less the stream's generation) and kernel µs per review
        ru = resource.getrusage(resource.RUSAGE_SELF)
        split["user"] = round((ru.ru_utime - ru0.ru_utime - gen) / n * 1e6, 1)
        split["sys"] = round((ru.ru_stime - ru0.ru_stime) / n * 1e6, 1)
    return round((time.process_time() - c0 - gen) / n * 1e6, 1)


def drop_prefix(client, prefix: str) -> None:
    """Remove a reference engine's keys (``prefix:*``) so they count neither in memory nor in the next window.
    DEL (not UNLINK: the memory is read right after), 1,000 keys a call: a reference leaves tens of thousands."""
    keys = list(client.scan_iter(match=f"{prefix}:*", count=10_000))
    for i in range(0, len(keys), 1000):
        client.delete(*keys[i:i + 1000])


class PairedReference:
    """A fresh engine's 10k-history window timed *batch by batch beside* the measured window.

    Why: ``reference_cost`` times the fresh engine's window after the checkpoint's window, so the
    two see the machine at different moments (tens of seconds apart); on a shared machine the same
    work's CPU time moves by 10-20% between runs and by several % within a minute, which left each
    ratio to the reference good to about +-0.05 (docs/benchmarks.md, "Integrity, sixth session").
    Here the fresh engine first ingests its ``history`` (untimed), then processes one batch of its
    window after each batch of the measured one, so both windows see the same load, batch for
    batch; what the fresh engine costs (client and Redis) is left out of the measured window."""

    def __init__(self, engine: IntegrityEngine, texts_mode: str, history: int, window: int, batch: int,
                 redis_cpu, redis_calls, redis_net=None) -> None:
        self.engine, self.batch, self.redis_cpu, self.redis_calls = engine, batch, redis_cpu, redis_calls
        self.redis_net = redis_net or (lambda: (0, 0))
        self.it = stream(history + window + 100 * batch, texts_mode=texts_mode)
        buf: list[ReviewEvent] = []
        for _ in range(history):
            buf.append(next(self.it))
            if len(buf) >= batch:
                engine.process(buf)
                buf = []
        if buf:
            engine.process(buf)
        self.n = 0
        self.cpu = self.user = self.sys = self.redis = 0.0
        # what the measured window must leave out: everything spent here, client and server
        self.excl_cpu = self.excl_user = self.excl_sys = self.excl_redis = 0.0
        self.calls = 0  # Redis commands the reference ran (scripts' inner calls included)
        self.net_in = self.net_out = 0  # bytes the reference sent to / read from the server

    def step(self) -> None:
        o0, oru0 = time.process_time(), resource.getrusage(resource.RUSAGE_SELF)
        buf = [next(self.it) for _ in range(self.batch)]  # generation: outside the reference's time
        k0, r0 = self.redis_calls(), self.redis_cpu()
        n0 = self.redis_net()  # next to the engine's own calls: the INFO replies are nobody's traffic
        ru0, c0 = resource.getrusage(resource.RUSAGE_SELF), time.process_time()
        self.engine.process(buf)
        c1, ru1 = time.process_time(), resource.getrusage(resource.RUSAGE_SELF)
        n1 = self.redis_net()
        r1, k1 = self.redis_cpu(), self.redis_calls()
        self.calls += k1 - k0
        self.net_in += n1[0] - n0[0]
        self.net_out += n1[1] - n0[1]
        self.n += len(buf)
        self.cpu += c1 - c0
        self.user += ru1.ru_utime - ru0.ru_utime
        self.sys += ru1.ru_stime - ru0.ru_stime
        self.redis += r1 - r0
        o1, oru1 = time.process_time(), resource.getrusage(resource.RUSAGE_SELF)
        self.excl_cpu += o1 - o0
        self.excl_user += oru1.ru_utime - oru0.ru_utime
        self.excl_sys += oru1.ru_stime - oru0.ru_stime
        self.excl_redis += r1 - r0


def false_match() -> None:
    """How often copy attribution (``detectors.copied``) would call an honest review a copy: every
    unique text of the shared corpus, in a fixed random order, each by its own author, matched
    against the earlier ones exactly as the engine does (first band holder, estimated Jaccard >=
    MATCH). Reported for the shipped information threshold and looser ones."""
    from trustscope.integrity.detectors import copied
    from trustscope.integrity.detectors.duplicate import skeleton

    pools = textpool.corpus_texts()
    if pools is None:
        print(json.dumps({"error": "shared corpus absent"}))
        return
    texts = list(pools[0]) + list(pools[1])
    random.Random(0).shuffle(texts)
    t0 = time.perf_counter()
    rows = []
    for min_chars, min_sh in ((0, 2), (8, 6), (copied.MIN_CHARS, copied.MIN_SHINGLES), (20, 18)):
        bands: dict[bytes, int] = {}
        holders: dict[int, bytes] = {}
        indexed = matched = 0
        for i, text in enumerate(texts):
            sh = copied.clause_shingles(text)
            if len(sh) < min_sh or len(skeleton(text)) < min_chars:
                continue
            sig = copied.minhash(sh)
            indexed += 1
            keys = copied.band_keys(sig)
            hit = False
            for h in dict.fromkeys(bands[k] for k in keys if k in bands):
                if copied.match(sig, holders[h], i + 1, f"a{i}") is not None:
                    hit = True
                    break
            matched += hit
            if not all(k in bands for k in keys):
                holders[i] = copied.pack_holder(sig, i, f"a{i}")
                for k in keys:
                    bands.setdefault(k, i)
        rows.append({"min_chars": min_chars, "min_shingles": min_sh, "texts": len(texts), "indexed": indexed,
                     "false_matches": matched, "false_match_rate": round(matched / max(1, indexed), 5),
                     "of_all_texts": round(matched / len(texts), 5)})
        print(json.dumps(rows[-1]), flush=True)
    print(json.dumps({"seconds": round(time.perf_counter() - t0, 1)}))


def _window_end(name: str) -> float | None:
    """When a time-bucketed group's window ends (stream time), from its key name (``t/bu/<day>``,
    ``t/wr/<day>``, ``t/wk/<day>``: UTC days; ``t/li/<grid>/<w>``, ``t/lp/<grid>/<w>``,
    ``t/co/<w>``: lockstep windows on grid 0 or 1); None for other keys."""
    import re

    from trustscope.integrity.detectors import lockstep

    m = re.match(r"t/(bu|wr|wk)/(\d+)", name)
    if m:
        return (int(m.group(2)) + 1) * DAY
    m = re.match(r"t/(li|lp)/(\d+)/(\d+)", name)
    if m:
        g, w = int(m.group(2)), int(m.group(3))
        return (w + 1) * lockstep.WINDOW - g * lockstep.WINDOW / 2
    m = re.match(r"t/co/(\d+)", name)
    if m:
        return (int(m.group(1)) + 1) * lockstep.WINDOW
    return None


def memory_by_family(client, prefix: str, stream_now: float | None = None,
                     sample: int = 400) -> dict[str, dict[str, float]]:
    """Redis memory by key family (the key name with shard numbers, days and windows folded to
    ``#``): key count and ``MEMORY USAGE`` of up to ``sample`` keys per family, scaled by the count.
    Tells which part of the state grows with history. With ``stream_now``, a time-bucketed family
    also reports ``mb_live``: what is left once the keys whose window ended more than the engine's
    ``GROUP_TTL`` before the stream's clock are left out - what the TTL (wall clock, 60 days after
    the last write) leaves in production, where the stream's clock is the wall clock; a replay
    compresses months into minutes, so nothing expires during it."""
    import re

    from trustscope.integrity.engine import GROUP_TTL

    fam_keys: dict[str, list[bytes]] = {}
    counts: dict[str, int] = {}
    live: dict[str, int] = {}
    for key in client.scan_iter(match=f"{prefix}:*", count=10_000):
        name = key.decode("utf-8", "replace")[len(prefix) + 1:]
        fam = re.sub(r"\d+", "#", name)
        fam = re.sub(r":m:.*$", ":m:*", fam)
        counts[fam] = counts.get(fam, 0) + 1
        end = _window_end(name) if stream_now is not None else None
        if end is None or end + GROUP_TTL >= stream_now:
            live[fam] = live.get(fam, 0) + 1
        keys = fam_keys.setdefault(fam, [])
        if len(keys) < sample:
            keys.append(key)
    out = {}
    for fam, keys in fam_keys.items():
        pipe = client.pipeline(transaction=False)
        for k in keys:
            pipe.memory_usage(k, samples=0)
            pipe.object("encoding", k)
            pipe.hlen(k)  # WRONGTYPE on lists (member lists): left out of the field count
        got = pipe.execute(raise_on_error=False)
        sizes = [int(v or 0) for v in got[0::3]]
        encs = [v.decode() if isinstance(v, bytes) else str(v) for v in got[1::3]]
        lens = [int(v) for v in got[2::3] if isinstance(v, int)]
        mean = sum(sizes) / max(1, len(sizes))
        out[fam] = {"keys": counts[fam], "mb": round(mean * counts[fam] / 2**20, 1),
                    # per key (a shard): bytes, fields and encoding - what a listpack scan or
                    # realloc costs per command grows with these
                    "bytes_per_key": round(mean), "max_bytes_per_key": max(sizes, default=0),
                    "encoding": {e: encs.count(e) for e in sorted(set(encs))}}
        if lens:
            out[fam]["fields_per_key"] = round(sum(lens) / len(lens), 1)
            out[fam]["max_fields_per_key"] = max(lens)
        if stream_now is not None and fam.startswith("t/"):
            out[fam]["mb_live"] = round(mean * live.get(fam, 0) / 2**20, 1)
    return dict(sorted(out.items(), key=lambda kv: -kv[1]["mb"]))


def expire_by_stream_time(client, prefix: str, stream_now: float) -> int:
    """UNLINK the time-bucketed keys (``t/``) whose window ended more than the engine's
    ``GROUP_TTL`` before the stream's clock: what production's wall-clock TTL (set on every write,
    60 days) has removed by then, since a window's keys are written only while it is current. A
    replay compresses months into minutes, so without this its Redis holds every window ever
    written (an upper bound no deployment reaches). Returns the keys removed."""
    from trustscope.integrity.engine import GROUP_TTL

    gone: list[bytes] = []
    for key in client.scan_iter(match=f"{prefix}:t/*", count=50_000):
        end = _window_end(key.decode("utf-8", "replace")[len(prefix) + 1:])
        if end is not None and end + GROUP_TTL < stream_now:
            gone.append(key)
    for i in range(0, len(gone), 1000):
        client.unlink(*gone[i:i + 1000])
    return len(gone)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_mb() -> float:
    """This process's resident set now (Linux /proc; 0 elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return 0.0
    return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


def _apply_gc(mode: str) -> None:
    """Tune the collector as the integrity stage does once built (trustscope.gctune), or not."""
    from trustscope import gctune
    from trustscope.settings import get_settings

    if mode == "off":
        gc.disable()
    elif mode == "settings":
        gctune.apply(gctune.GcPolicy.from_settings(get_settings()))
    elif mode != "python":
        gctune.apply(gctune.GcPolicy.parse(mode, freeze=True))
    print(json.dumps({"gc": mode, "thresholds": list(gc.get_threshold()), "enabled": gc.isenabled(),
                      "frozen": gc.get_freeze_count()}), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backend", choices=["memory", "redis"], default="memory")
    ap.add_argument("--reviews", type=int, default=100_000)
    ap.add_argument("--checkpoints", default="10000,100000,300000,1000000")
    ap.add_argument("--window", type=int, default=5000, help="reviews timed after each checkpoint")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--redis-url", default=None)
    ap.add_argument("--prefix", default="bench:int")
    ap.add_argument("--start-redis", action="store_true", help="start a private redis-server")
    ap.add_argument("--json", default=None, help="write results here")
    ap.add_argument("--texts", choices=TEXT_MODES, default="pool",
                    help="honest texts: pool draws, joined pool pairs, generated unique texts, unique + copiers")
    ap.add_argument("--unique-texts", action="store_true", help="the same as --texts unique")
    ap.add_argument("--breakdown", action="store_true", help="Redis memory by key family at the end")
    ap.add_argument("--false-match", action="store_true", help="measure copy attribution on honest texts")
    ap.add_argument("--listpack-value", type=int, default=0,
                    help="--start-redis: the private server's hash-max-listpack-value (0: Redis' default)")
    ap.add_argument("--listpack-entries", type=int, default=0,
                    help="--start-redis: hash-max-listpack-entries for the private server (0: Redis' default 128)")
    ap.add_argument("--reencode", default="",
                    help="--start-redis: at the end, for each value (e.g. 64,512: the first the same setting, "
                         "a control for what a reload alone saves) set hash-max-listpack-value, reload the "
                         "dataset (DEBUG RELOAD re-encodes every hash) and report the memory again")
    ap.add_argument("--no-copy-attribution", action="store_true",
                    help="diagnostic only: switch copy attribution off, to see what it costs per review")
    ap.add_argument("--reference", action="store_true",
                    help="after each checkpoint's window, time the 10k-history window again on a fresh engine "
                         "(the same load): ref_engine_cpu_us_per_review and the ratio")
    ap.add_argument("--paired-reference", action="store_true",
                    help="like --reference, but the fresh engine's window runs batch by batch beside the measured "
                         "one (PairedReference: the same load for both; its cost is left out of the window's)")
    ap.add_argument("--profile", default="",
                    help="diagnostic: cProfile each timed window into PREFIX-<history>.prof (slows the engine)")
    ap.add_argument("--profile-clock", choices=["wall", "cpu"], default="wall",
                    help="--profile's timer: 'wall' (cProfile's default: includes waiting for Redis) or 'cpu' "
                         "(time.process_time: this process's CPU only, so the times can be compared)")
    ap.add_argument("--copies-keep", type=int, default=0,
                    help="diagnostic only: override engine.COPIES_KEEP (e.g. 1000000: the uncapped copy list)")
    ap.add_argument("--save-rdb", default="",
                    help="--start-redis: at the end, SAVE the private server's dataset into this file (for --resume-rdb)")
    ap.add_argument("--resume-rdb", default="",
                    help="--start-redis: start the private server from this file (written by --save-rdb after "
                         "--skip reviews) and generate, without processing, the stream's first --skip reviews: "
                         "a late state in minutes instead of a replay (the engine's in-process caches start cold)")
    ap.add_argument("--skip", type=int, default=0, help="with --resume-rdb: reviews the saved state already holds")
    ap.add_argument("--expire", choices=["stream", "wall"], default="stream",
                    help="time-bucketed keys: 'stream' (default) removes them by the stream's clock as "
                         "production's 60-day TTL would (between timed windows; its cost is left out "
                         "and reported); 'wall' leaves them to the wall-clock TTL (a replay keeps all)")
    ap.add_argument("--expire-days", type=float, default=2.0,
                    help="--expire stream: run the expiry every this many stream days")
    ap.add_argument("--variants", default="",
                    help="diagnostic A/B: one per checkpoint (comma-separated; missing ones are 'old'), what the "
                         "checkpoint's timed window runs on: 'old' (the long-running engine), 'new' (a new "
                         "IntegrityEngine on the same prefix for this window only: the state stays in Redis, the "
                         "object's caches start cold; the long-running one resumes after), 'cold' (the "
                         "long-running engine with its day caches emptied), 'lru' (weak_rate.strength's "
                         "lru_cache cleared), 'freeze' (gc.collect + gc.freeze first), 'collect' (gc.collect "
                         "first), 'reload' (the private Redis reloads its dataset first: DEBUG RELOAD)")
    ap.add_argument("--gc", default="settings",
                    help="the collector: 'settings' (TS_GC_THRESHOLDS / TS_GC_FREEZE, what the stage runs), "
                         "'python' (Python's defaults), 'off' (gc.disable(), diagnostic) or thresholds 'A,B,C'")
    args = ap.parse_args()
    if args.copies_keep:
        from trustscope.integrity import engine as engine_mod

        engine_mod.COPIES_KEEP = args.copies_keep
    if args.false_match:
        false_match()
        return
    if args.no_copy_attribution:
        from trustscope.integrity.detectors import copied

        copied.signature = lambda text, skel=None: None  # type: ignore[assignment]

    proc = None
    client = None
    tmp = None
    if args.backend == "redis":
        import redis

        if args.start_redis:
            port = _free_port()
            tmp = tempfile.mkdtemp(prefix="bench-redis-")
            extra = ["--hash-max-listpack-value", str(args.listpack_value)] if args.listpack_value else []
            if args.listpack_entries:  # a hash with more fields becomes a hashtable (also when loading an RDB)
                extra += ["--hash-max-listpack-entries", str(args.listpack_entries)]
            if args.reencode or "reload" in args.variants:
                extra += ["--enable-debug-command", "local"]
            if args.resume_rdb:
                shutil.copyfile(args.resume_rdb, os.path.join(tmp, "dump.rdb"))
            proc = subprocess.Popen([shutil.which("redis-server") or "redis-server", "--port", str(port),
                                     "--save", "", "--appendonly", "no", "--dir", tmp, *extra],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            url = f"redis://127.0.0.1:{port}/0"
            for _ in range(3000 if args.resume_rdb else 50):
                try:
                    redis.Redis.from_url(url).ping()
                    break
                except (redis.ConnectionError, redis.BusyLoadingError):
                    time.sleep(0.2 if args.resume_rdb else 0.1)
        else:
            url = args.redis_url or os.environ.get("TS_REDIS_URL", "redis://127.0.0.1:6379/0")
        client = redis.Redis.from_url(url)
        base_mem = int(client.info("memory")["used_memory"])
        if args.resume_rdb:  # the saved state's memory is history, not the empty server's
            base_mem = int(client.info("memory").get("used_memory_startup", base_mem))
        engine = IntegrityEngine.from_redis(client, prefix=args.prefix)
    else:
        engine = IntegrityEngine.in_memory()

    _apply_gc(args.gc)
    # reviews judged (a batch's own plus the members of groups whose level changed): what the
    # per-review cost follows (docs/benchmarks.md, "why per-review cost grows with history")
    judged = [0]

    def counted(eng: IntegrityEngine) -> IntegrityEngine:
        judge = eng._judge

        def counting_judge(order: list[str], extra: list[str]) -> list:
            judged[0] += len(order) + len(extra)
            return judge(order, extra)

        eng._judge = counting_judge  # type: ignore[method-assign]
        return eng

    engines = [counted(engine)]  # engines[-1] processes; a 'new' variant pushes one for its window

    def redis_cpu() -> float:
        if client is None:
            return 0.0
        info = client.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])

    def redis_calls() -> int:
        """Commands the server has run (scripts' inner calls included): work that load does not skew."""
        if client is None:
            return 0
        return sum(int(v["calls"]) for k, v in client.info("commandstats").items() if k != "cmdstat_info")

    def redis_net() -> tuple[int, int]:
        """Bytes the server has read (requests) and written (replies): client parsing work that the
        command count does not show (a reply that grows with history)."""
        if client is None:
            return (0, 0)
        info = client.info("stats")
        return int(info["total_net_input_bytes"]), int(info["total_net_output_bytes"])

    def command_stats() -> dict[str, tuple[int, float]]:
        """Per command: (calls, microseconds) the server has spent so far (scripts' inner calls too)."""
        if client is None:
            return {}
        return {k[len("cmdstat_"):]: (int(v["calls"]), float(v["usec"]))
                for k, v in client.info("commandstats").items() if k != "cmdstat_info"}

    results: list[dict] = []
    texts_mode = "unique" if args.unique_texts and args.texts == "pool" else args.texts
    gen_cpu = [0.0]  # CPU seconds spent generating the stream (left out of the engine's figures)
    flagged = {"copied_text": 0, "near_duplicate": 0, "serial_copier": 0}

    def timed_stream() -> Iterator[ReviewEvent]:
        it = stream(args.reviews, texts_mode=texts_mode)
        while True:
            c0 = time.process_time()
            ev = next(it, None)
            gen_cpu[0] += time.process_time() - c0
            if ev is None:
                return
            yield ev

    def record(timing: dict, done: int) -> None:
        n = done - timing["history"]
        pr: PairedReference | None = timing.get("paired")
        x_cpu, x_user, x_sys, x_redis = (pr.excl_cpu, pr.excl_user, pr.excl_sys, pr.excl_redis) if pr \
            else (0.0, 0.0, 0.0, 0.0)
        net_in, net_out = redis_net()
        row = {
            "history": timing["history"],
            "wall_us_per_review": round((time.perf_counter() - timing["t"]) / n * 1e6, 1),
            "engine_cpu_us_per_review": round((time.process_time() - timing["c"] - (gen_cpu[0] - timing["g"])
                                               - x_cpu) / n * 1e6, 1),
            "redis_cpu_us_per_review": round((redis_cpu() - timing["r"] - x_redis) / n * 1e6, 1),
            "stream_gen_us_per_review": round((gen_cpu[0] - timing["g"]) / n * 1e6, 1),
            "judged_per_review": round((judged[0] - timing["j"]) / n, 2),
            "redis_calls_per_review": round((redis_calls() - timing["rc"] - (pr.calls if pr else 0)) / n, 1),
            "redis_in_bytes_per_review": round((net_in - timing["net"][0] - (pr.net_in if pr else 0)) / n),
            "redis_out_bytes_per_review": round((net_out - timing["net"][1] - (pr.net_out if pr else 0)) / n),
            # share of the window's new reviews judged with each copy signal (first verdicts)
            **{f"new_with_{k}": round((flagged[k] - timing["f"][k]) / n, 4) for k in flagged},
        }
        row["reviews_per_engine_cpu_s"] = round(1e6 / max(1.0, row["engine_cpu_us_per_review"]))
        ru = resource.getrusage(resource.RUSAGE_SELF)  # user (Python, less the stream's generation) vs kernel
        row["engine_user_us_per_review"] = round((ru.ru_utime - timing["ru"].ru_utime - (gen_cpu[0] - timing["g"])
                                                  - x_user) / n * 1e6, 1)
        row["engine_sys_us_per_review"] = round((ru.ru_stime - timing["ru"].ru_stime - x_sys) / n * 1e6, 1)
        row["engine_ctx_switches_per_review"] = round((ru.ru_nvcsw + ru.ru_nivcsw - timing["ru"].ru_nvcsw
                                                       - timing["ru"].ru_nivcsw) / n, 2)
        if client is not None:  # which commands get dearer with history: calls per review, µs per call
            now_stats = command_stats()
            per = {}
            for cmd, (calls, usec) in now_stats.items():
                c0, u0 = timing["cs"].get(cmd, (0, 0.0))
                if calls > c0:
                    per[cmd] = {"calls_per_review": round((calls - c0) / n, 2),
                                "usec_per_call": round((usec - u0) / (calls - c0), 3),
                                "usec_per_review": round((usec - u0) / n, 1)}
            row["commands"] = dict(sorted(per.items(), key=lambda kv: -kv[1]["usec_per_review"]))
        if pr is not None and client is not None:  # the paired reference's state is not the measured one's
            drop_prefix(client, f"{args.prefix}-ref")
        row["engine_rss_mb"] = _rss_mb()  # the engine process's resident memory (the collector's cost)
        row["gc_collections"] = [g["collections"] for g in gc.get_stats()]
        if client is not None:
            row["redis_mb"] = round((int(client.info("memory")["used_memory"]) - base_mem) / 2**20, 1)
            row["redis_bytes_per_review"] = round(row["redis_mb"] * 2**20 / done)
            if args.breakdown:
                fams = memory_by_family(client, args.prefix, stream_now=last_t[0])
                row["by_family"] = fams
                row["t_groups_mb"] = round(sum(v["mb"] for k, v in fams.items() if k.startswith("t/")), 1)
                row["t_groups_mb_live"] = round(sum(v.get("mb_live", 0) for k, v in fams.items()
                                                    if k.startswith("t/")), 1)
                row["redis_mb_after_ttl"] = round(row["redis_mb"] - row["t_groups_mb"] + row["t_groups_mb_live"], 1)
                row["stream_days"] = round((last_t[0] - START) / DAY, 1)
        if pr is not None:  # (the per-command stats above include the paired reference's commands)
            row["ref_reviews"] = pr.n
            row["ref_engine_cpu_us_per_review"] = round(pr.cpu / max(1, pr.n) * 1e6, 1)
            row["ref_engine_user_us_per_review"] = round(pr.user / max(1, pr.n) * 1e6, 1)
            row["ref_engine_sys_us_per_review"] = round(pr.sys / max(1, pr.n) * 1e6, 1)
            row["ref_redis_cpu_us_per_review"] = round(pr.redis / max(1, pr.n) * 1e6, 1)
            row["ref_redis_calls_per_review"] = round(pr.calls / max(1, pr.n), 1)
            row["ref_redis_in_bytes_per_review"] = round(pr.net_in / max(1, pr.n))
            row["ref_redis_out_bytes_per_review"] = round(pr.net_out / max(1, pr.n))
            row["ratio_to_ref"] = round(row["engine_cpu_us_per_review"] / row["ref_engine_cpu_us_per_review"], 3)
        if args.reference:  # with --paired-reference too: the sequential one as seq_* (the two methods side by side)
            tag = "seq_" if pr is not None else ""
            ref_prefix = f"{args.prefix}-ref"
            ref = IntegrityEngine.from_redis(client, prefix=ref_prefix) if client is not None \
                else IntegrityEngine.in_memory()
            split: dict = {}
            row[f"{tag}ref_engine_cpu_us_per_review"] = reference_cost(ref, texts_mode, window=args.window,
                                                                       batch=args.batch, split=split)
            row[f"{tag}ref_engine_user_us_per_review"] = split["user"]
            row[f"{tag}ref_engine_sys_us_per_review"] = split["sys"]
            row[f"{tag}ratio_to_ref"] = round(row["engine_cpu_us_per_review"]
                                              / row[f"{tag}ref_engine_cpu_us_per_review"], 3)
            if client is not None:
                drop_prefix(client, ref_prefix)
        row["variant"] = timing.get("variant", "old")
        row["gc_count"] = list(gc.get_count())
        row["gc_frozen"] = gc.get_freeze_count()
        results.append(row)
        print(json.dumps(row), flush=True)

    checkpoints = sorted(int(c) for c in args.checkpoints.split(",") if int(c) + args.window <= args.reviews)
    variants = dict(zip(checkpoints, (v.strip() or "old" for v in args.variants.split(",")))) \
        if args.variants else {}

    def apply_variant(variant: str) -> None:
        """Diagnostic (--variants): change one thing in the process or the server before a window."""
        if variant == "new":
            engines.append(counted(IntegrityEngine.from_redis(client, prefix=args.prefix) if client is not None
                                   else IntegrityEngine(engines[0].store)))
        elif variant == "cold":
            eng = engines[-1]
            for cache in (eng._weak, eng._hist, eng._baselines):
                cache.clear()
        elif variant == "lru":
            from trustscope.integrity.detectors import weak_rate

            weak_rate.strength.cache_clear()
        elif variant in ("freeze", "collect"):
            gc.collect()
            if variant == "freeze":
                gc.freeze()
        elif variant == "reload" and client is not None:
            with redis.Redis.from_url(url, socket_timeout=1800) as slow:
                slow.execute_command("DEBUG", "RELOAD")
        elif variant != "old":
            raise SystemExit(f"unknown variant {variant!r}")
    def new_profiler() -> cProfile.Profile:
        return cProfile.Profile(time.process_time) if args.profile_clock == "cpu" else cProfile.Profile()

    profiler = new_profiler() if args.profile else None  # diagnostic: one profile per timed window
    batch: list[ReviewEvent] = []
    done = 0
    timing: dict | None = None
    t_all, c_all, r_all = time.perf_counter(), time.process_time(), redis_cpu()
    updates = 0
    last_t = [START]  # the stream's clock (the latest review's time)
    def run(batch: list[ReviewEvent]) -> int:
        ids = {ev.id for ev in batch}
        got = engines[-1].process(batch)
        for u in got:
            if u.id in ids:
                for k in flagged:
                    flagged[k] += u.signals.get(k, 0.0) > 0
        return len(got)

    skipped = 0
    expiry = {"next": START + args.expire_days * DAY, "keys": 0, "runs": 0, "cpu": 0.0, "redis_cpu": 0.0}
    for ev in timed_stream():
        last_t[0] = ev.created_at
        if (client is not None and args.expire == "stream" and timing is None
                and ev.created_at >= expiry["next"] and skipped >= args.skip):
            c0, r0 = time.process_time(), redis_cpu()
            expiry["keys"] += expire_by_stream_time(client, args.prefix, ev.created_at)
            expiry["runs"] += 1
            expiry["cpu"] += time.process_time() - c0
            expiry["redis_cpu"] += redis_cpu() - r0
            expiry["next"] = ev.created_at + args.expire_days * DAY
        if skipped < args.skip:  # --resume-rdb: the saved state already holds these reviews
            skipped += 1
            if skipped == args.skip:
                t_all, c_all, r_all, gen_cpu[0] = time.perf_counter(), time.process_time(), redis_cpu(), 0.0
                done = args.skip
                checkpoints = [c for c in checkpoints if c >= done]
            continue
        batch.append(ev)
        if len(batch) < args.batch:
            continue
        updates += run(batch)
        done += len(batch)
        batch = []
        if timing is not None and timing.get("paired") is not None:
            if profiler is not None:
                profiler.disable()
            timing["paired"].step()
            if profiler is not None:
                profiler.enable()
        if timing is None and checkpoints and done >= checkpoints[0]:
            paired = None
            if args.paired_reference:
                ref_engine = IntegrityEngine.from_redis(client, prefix=f"{args.prefix}-ref") \
                    if client is not None else IntegrityEngine.in_memory()
                paired = PairedReference(ref_engine, texts_mode, 10_000, args.window, args.batch, redis_cpu,
                                         redis_calls, redis_net)
            if profiler is not None:
                profiler.enable()
            variant = variants.get(checkpoints[0], "old")
            apply_variant(variant)
            timing = {"variant": variant, "paired": paired,
                      "history": done, "t": time.perf_counter(), "c": time.process_time(), "r": redis_cpu(),
                      "j": judged[0], "g": gen_cpu[0], "f": dict(flagged), "rc": redis_calls(), "net": redis_net(),
                      "cs": command_stats(), "ru": resource.getrusage(resource.RUSAGE_SELF)}
            checkpoints.pop(0)
        elif timing is not None and done - timing["history"] >= args.window:
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(f"{args.profile}-{timing['history']}.prof")
                profiler = new_profiler()
            record(timing, done)
            if timing["variant"] == "new":
                engines.pop()  # the long-running engine takes over again
            timing = None
    if batch:
        updates += run(batch)
        done += len(batch)
        batch = []
    if timing is not None and done - timing["history"] >= args.window // 2:
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(f"{args.profile}-{timing['history']}.prof")
        record(timing, done)
    wall = time.perf_counter() - t_all
    cpu = time.process_time() - c_all - gen_cpu[0] - expiry["cpu"]  # the bench's expiry is not the engine's
    rcpu = redis_cpu() - r_all - expiry["redis_cpu"]
    done_here = done - args.skip
    summary = {
        "backend": args.backend, "reviews": done, "processed": done_here, "wall_s": round(wall, 1),
        "reviews_per_s_wall": round(done_here / wall), "reviews_per_engine_cpu_s": round(done_here / cpu),
        "reviews_per_total_cpu_s": round(done_here / (cpu + rcpu)), "updates": updates,
        "text_source": textpool.HonestTexts(random.Random(0)).source, "texts": texts_mode,
        "stream_gen_cpu_s": round(gen_cpu[0], 1),
        "engine_rss_mb": _rss_mb(), "engine_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        **{f"with_{k}": flagged[k] for k in flagged},
        "expire": args.expire,
    }
    if args.expire == "stream" and client is not None:
        summary["expiry"] = {"runs": expiry["runs"], "keys_unlinked": expiry["keys"],
                             "client_cpu_s": round(expiry["cpu"], 1), "redis_cpu_s": round(expiry["redis_cpu"], 1)}
    if client is not None:
        mem = int(client.info("memory")["used_memory"]) - base_mem
        summary["redis_mb"] = round(mem / 2**20, 1)
        summary["redis_bytes_per_review"] = round(mem / done)
        summary["redis_keys"] = int(client.dbsize())
        if args.breakdown:
            summary["by_family"] = memory_by_family(client, args.prefix, stream_now=last_t[0])
    print(json.dumps(summary), flush=True)
    if args.save_rdb and client is not None and proc is not None:
        with redis.Redis.from_url(url, socket_timeout=1800) as slow:
            slow.save()
        shutil.copyfile(os.path.join(tmp, "dump.rdb"), args.save_rdb)
        print(json.dumps({"saved_rdb": args.save_rdb, "reviews": done}), flush=True)
    summary["reencoded"] = []
    for value in (int(v) for v in args.reencode.split(",") if v) if client is not None and proc is not None else ():
        client.config_set("hash-max-listpack-value", value)
        try:  # a reload of ~1 GB takes tens of seconds on a loaded machine: its own long timeout
            with redis.Redis.from_url(url, socket_timeout=1800) as slow:
                slow.execute_command("DEBUG", "RELOAD")
        except redis.RedisError as exc:
            print(json.dumps({"reencoded": {"hash_max_listpack_value": value, "error": str(exc)}}), flush=True)
            break
        mem = int(client.info("memory")["used_memory"]) - base_mem
        row = {"hash_max_listpack_value": value, "redis_mb": round(mem / 2**20, 1),
               "redis_bytes_per_review": round(mem / done)}
        if args.breakdown:
            row["by_family"] = memory_by_family(client, args.prefix, stream_now=last_t[0])
        summary["reencoded"].append(row)
        print(json.dumps({"reencoded": row}), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"checkpoints": results, "summary": summary}, indent=2))
    if proc is not None:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
