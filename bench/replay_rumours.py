"""Replay rumours through the running system and measure what a risk team would get.

    # once: a rumour model trained on a part of CED only, and the early-warning threshold chosen on
    # another part (written to ~/.cache/trustscope/replay-rumour-model, which mixed/noise then use)
    python bench/replay_rumours.py prepare
    # mixed traffic through ingest -> sentiment -> integrity -> indexer + alerter -> gateway;
    # --local starts that stack in this process on the given Redis/Elasticsearch
    python bench/replay_rumours.py mixed --local --redis redis://127.0.0.1:6390/0 \
        --es http://127.0.0.1:9250 --rate 100 --wall-s 180 --events 40      # x400 compressed
    python bench/replay_rumours.py mixed --local ... --compression 1 --wall-s 120   # real time, bounded
    # ordinary traffic alone (reviews + ordinary social stories) for simulated days, into the engine
    python bench/replay_rumours.py noise --redis redis://127.0.0.1:6390/0 --days 8 --per-day 10000

``prepare``: CED events split by near-duplicate group into train / calibration / test; the model is
trained on train, the early-warning threshold is the lowest with precision >= ``--min-precision`` on
the calibration part's first posts (as the integrity stage scores them); ``mixed`` and ``noise`` play
test-part events only (they say so, or warn when no split exists).

``mixed``: CED events (``../shared/data/rumour_ced_train.jsonl.gz``) are re-timed into a
time-compressed stream (``--compression`` simulated seconds per wall second; 1 = real time): each
event's original post and its reposts within ``--horizon-h`` hours keep their relative times, with a
platform's name placed into the original text (each rumour about a different platform unless
``--shared-platforms``; claim phrases only with ``--claims``). Reposts carry
``parent_id``/``root_id``; a share of them (``--copy-share``) is sent instead as an unthreaded copy
("comment//original text"), which only MinHash can group. Ordinary traffic (real reviews from
``sentiment_reviews.jsonl.gz`` and synthetic finance reviews, with platform names) fills the rest
up to ``--rate`` posts per wall second. The integrity stage scores social posts with the rumour model
and the alerter re-scores stories with it. Reported:

- rumour events alerted (recall), rumour-kind alert precision, early warnings vs bursts, retractions;
- alert latency of each rumour event, first post -> alert, as it would be live: the simulated time
  from the first post to the post that tipped the alert, plus the system's wall-clock delay from
  sending that post to the alert (both parts also separately), p50/p95, and as replayed (wall);
- story precision and recall (B-cubed over the events' posts: each event is one true story);
- alerts on stories of ordinary traffic, per platform per simulated day; stage backlogs while playing.

``noise``: only ordinary traffic over simulated days: reviews (``--per-day`` over all platforms,
Zipf-shared so a few platforms are busy and most are small; sentiment from the review's label, rumour
score from the lexicon, as the stage gives reviews) and ordinary social stories (``--social-per-day``
non-rumour CED events with their reposts, scored by the rumour model), straight into the alert
engine; reports alerts per platform per day and per week (the first day, while baselines learn,
shown apart). ``--surge PLATFORM@DAY`` adds one genuine complaint surge to that traffic
(``--surge-posts`` lexicon-scored, negative complaints from as many people within
``--surge-minutes``) and reports whether it paged, held or promoted, so a run shows both what
ordinary traffic pages and that a real second surge inside a platform's budget week still does.
"""

from __future__ import annotations

import argparse
import gzip
import random
import signal
import statistics
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from trustscope.ids import document_id  # noqa: E402
from trustscope.platforms.registry import default_platforms  # noqa: E402

DATA = REPO.parent / "shared" / "data"
# a complaint surge: one complaint copied with small changes (as people pass one on), or four wordings
SURGE_SAME = ["{}提现不到账三天了，客服电话一直打不通，大家小心", "转：{}提现不到账三天了，客服电话一直打不通，大家小心",
              "【求助】{}提现不到账三天了，客服电话一直打不通，大家小心！", "同样遭遇！{}提现不到账三天了，客服电话一直打不通"]
SURGE_VARIED = ["{}提现不到账三天了，客服电话一直打不通", "{}无法提现了吗？我的钱也卡住了，客服电话打不通",
                "{}提现困难，客服电话打不通，有没有人一样", "求助：{}提不了现，三天没到账，客服电话打不通"]
CLAIMS = ["{}要暴雷了？", "{}提现困难，已经三天了", "{}跑路了？", "{}被立案调查了", "{}停止兑付", "{}无法提现了"]
SOURCE = "replay"
HELD_OUT_DIR = Path.home() / ".cache" / "trustscope" / "replay-rumour-model"


@dataclass
class Item:
    sim_t: float  # simulated seconds from the start
    doc: dict[str, Any]
    event: str | None = None  # CED event id, None for ordinary traffic
    label: str | None = None
    sent_wall: float = 0.0


@dataclass
class Played:
    items: list[Item] = field(default_factory=list)
    platform_of: dict[str, str] = field(default_factory=dict)


def platforms() -> list[tuple[str, str]]:
    return [(p.id, p.name_zh) for p in default_platforms()]


def zipf_weights(n: int, s: float = 1.1) -> list[float]:
    w = [1.0 / (i + 1) ** s for i in range(n)]
    total = sum(w)
    return [x / total for x in w]


def load_split(model_dir: str | None) -> dict[str, Any] | None:
    """The split and early-warning threshold ``prepare`` wrote beside its held-out model, if any."""
    path = Path(model_dir) / "replay_split.json" if model_dir else None
    return orjson.loads(path.read_bytes()) if path and path.exists() else None


def model_overrides(args: argparse.Namespace, split: dict[str, Any] | None) -> dict[str, Any]:
    """Settings overrides shared by the mixed and noise replays: the held-out rumour model dir and
    its early-warning threshold (an explicit --early-threshold wins over the one `prepare` chose)."""
    threshold = args.early_threshold if args.early_threshold is not None else (
        split["early_threshold"] if split else None)
    extra: dict[str, Any] = {"rumour_model_dir": args.model_dir} if args.model_dir else {}
    if threshold is not None:
        extra["alerts_early_threshold"] = threshold
    return extra


def load_events(path: Path, n: int, rng: random.Random, only: set[str] | None = None,
                label: str | None = None) -> list[dict[str, Any]]:
    """``n`` events, half rumours (or ``n`` of one ``label``), from the ids in ``only`` when given."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        events = [orjson.loads(line) for line in f]
    if only is not None:
        events = [e for e in events if e["id"] in only]
    if label is not None:
        chosen = [e for e in events if e["label"] == label]
        rng.shuffle(chosen)
        return chosen[:n]
    rumours = [e for e in events if e["label"] == "rumour"]
    others = [e for e in events if e["label"] != "rumour"]
    rng.shuffle(rumours)
    rng.shuffle(others)
    return rumours[: n // 2] + others[: n - n // 2]


def load_reviews(path: Path, n: int, rng: random.Random) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        rows = [orjson.loads(line) for line in f]
    rng.shuffle(rows)
    return rows[:n]


def ordinary_doc(i: int, sim_t: float, rng: random.Random, reviews: list[dict[str, Any]],
                 plats: list[tuple[str, str]], weights: list[float], tag: str) -> tuple[dict[str, Any], bool]:
    """An ordinary review (real or synthetic) about a Zipf-chosen platform; returns (doc, negative)."""
    from trustscope.samples import NEGATIVE, OPENERS, POSITIVE

    pid, name = rng.choices(plats, weights)[0]
    if i % 2 and reviews:
        row = reviews[i % len(reviews)]
        negative = row["label"] == 0
        text = f"在{name}上{row['text']}" if rng.random() < 0.5 else f"{name}：{row['text']}"
    else:
        negative = rng.random() < 0.4
        text = f"{rng.choice(OPENERS)}{name}{rng.choice(NEGATIVE if negative else POSITIVE)}（{i}）"
    rating = rng.choice([1, 2]) if negative else rng.choice([4, 5])
    return {"kind": "review", "source": SOURCE, "source_id": f"{tag}-o{i}", "platforms": [pid], "rating": rating,
            "text": text[:2000], "author": {"id": f"{tag}-ou{rng.randrange(10**9)}"}, "created_at": sim_t}, negative


def build_mixed(args: argparse.Namespace, tag: str) -> Played:
    rng = random.Random(args.seed)
    plats = platforms()
    weights = zipf_weights(len(plats))
    span = args.wall_s * args.compression
    horizon = args.horizon_h * 3600
    played = Played()
    split = load_split(args.model_dir)
    only = set(split["ids"]["test"]) if split else None
    events = load_events(Path(args.ced), args.events, rng, only)
    starts = sorted(rng.uniform(0, span * 0.6) for _ in events)
    # any platform, big or small, can be the subject of a rumour; with --distinct-platforms each rumour
    # is about another one (a second rumour about one platform within days is, by the noise budget of
    # one alert per platform per week, left to the burst path; --shared-platforms measures that)
    subjects = [plats[i % len(plats)] for i in rng.sample(range(len(plats)), len(plats))] * (1 + args.events // len(plats))
    n_rumour = 0
    for start, ev in zip(starts, events):
        if ev["label"] == "rumour" and not args.shared_platforms:
            pid, name = subjects[n_rumour]
            n_rumour += 1
        else:
            pid, name = rng.choice(plats)
        eid = f"{tag}-{ev['id']}"
        played.platform_of[eid] = pid
        head = (rng.choice(CLAIMS).format(name) + " " if ev["label"] == "rumour" and args.claims
                else f"{name} ")
        original = (head + ev["text"])[:2000]
        root_sid = f"{eid}-0"
        played.items.append(Item(start, {"kind": "social", "source": SOURCE, "source_id": root_sid, "text": original,
                                         "author": {"id": f"{tag}-author-{eid}"}},
                                 eid, ev["label"]))
        mids = {r["mid"] for r in ev["reposts"]}
        kept = [r for r in ev["reposts"] if 0 <= r["time"] - ev["time"] <= horizon][: args.max_reposts]
        for j, rep in enumerate(kept):
            sim_t = start + (rep["time"] - ev["time"])
            if sim_t >= span:
                break
            text = (rep.get("text") or "").strip() or "转发微博"
            doc: dict[str, Any] = {"kind": "social", "source": SOURCE, "source_id": f"{eid}-{rep['mid']}",
                                   "author": {"id": f"{tag}-{rep['uid']}"}}
            if rng.random() < args.copy_share:
                doc["text"] = (text + "//" + original)[:2000]
            else:
                doc["text"] = text[:2000]
                parent = rep.get("parent") or ""
                doc["parent_id"] = f"{eid}-{parent}" if parent in mids and parent != rep["mid"] else root_sid
                doc["root_id"] = root_sid
                doc["depth"] = 2 if doc["parent_id"] != root_sid else 1
            played.items.append(Item(sim_t, doc, eid, ev["label"]))
    event_posts = len(played.items)
    ordinary_n = max(0, int(args.rate * args.wall_s) - event_posts)
    reviews = load_reviews(Path(args.reviews), min(ordinary_n, 30_000), rng) if Path(args.reviews).exists() else []
    for i in range(ordinary_n):
        doc, _neg = ordinary_doc(i, rng.uniform(0, span), rng, reviews, plats, weights, tag)
        played.items.append(Item(doc["created_at"], doc))
    played.items.sort(key=lambda it: it.sim_t)
    return played


# --- a held-out rumour model and its early-warning threshold ---------------------------------------
SPLIT_SHARES = {"train": 0.6, "calib": 0.15, "test": 0.25}


def split_events(events: list[Any], seed: int) -> dict[str, list[int]]:
    """Indices per part, whole near-duplicate groups at a time (a copied post never straddles parts)."""
    from trustscope.rumour.training import near_duplicate_groups

    groups = near_duplicate_groups(events)
    order = sorted(set(groups.tolist()))
    random.Random(seed).shuffle(order)
    cut_train = int(len(order) * SPLIT_SHARES["train"])
    cut_calib = cut_train + int(len(order) * SPLIT_SHARES["calib"])
    part_of = {g: ("train" if i < cut_train else "calib" if i < cut_calib else "test") for i, g in enumerate(order)}
    out: dict[str, list[int]] = {k: [] for k in SPLIT_SHARES}
    for i, g in enumerate(groups.tolist()):
        out[part_of[g]].append(i)
    return out


def as_stage_sees(text: str, name: str) -> Any:
    """The first post as the integrity stage scores it: platform name placed in, no author, no thread."""
    from trustscope.rumour.events import RumourEvent

    return RumourEvent(None, f"{name} {text}"[:2000], 0.0, None, [], 0.0)


def choose_threshold(y: list[int], p: list[float], min_precision: float) -> tuple[float, dict[str, float]]:
    """The lowest threshold whose precision on the calibration part is >= ``min_precision`` (most recall
    at that precision); the F1-best one when none reaches it."""
    pairs = sorted(zip(p, y), reverse=True)
    best: tuple[float, dict[str, float]] | None = None
    best_f1: tuple[float, float, dict[str, float]] | None = None
    pos = sum(y)
    tp = fp = 0
    for i, (prob, label) in enumerate(pairs):
        tp += label
        fp += 1 - label
        if i + 1 < len(pairs) and pairs[i + 1][0] == prob:
            continue
        prec, rec = tp / (tp + fp), tp / max(1, pos)
        stats = {"precision": round(prec, 4), "recall": round(rec, 4), "tp": tp, "fp": fp}
        f1 = 2 * prec * rec / max(1e-9, prec + rec)
        if prec >= min_precision:
            best = (prob, stats)
        if best_f1 is None or f1 > best_f1[0]:
            best_f1 = (f1, prob, stats)
    if best is not None:
        return round(best[0], 4), best[1]
    assert best_f1 is not None
    return round(best_f1[1], 4), best_f1[2]


def prepare(args: argparse.Namespace) -> None:
    """Train the rumour model on the train part only, choose the early-warning threshold on the
    calibration part (first posts as the stage scores them), and write both plus the split."""
    import numpy as np

    from trustscope.rumour import training as T

    started = time.monotonic()
    events, y = T.read_events(Path(args.ced))
    parts = split_events(events, args.seed)
    ids = {k: [events[i].id for i in v] for k, v in parts.items()}
    tr = parts["train"]
    ds = T.Dataset.build([events[i] for i in tr], y[tr], list(T.TRAIN_HORIZONS))
    model = T.train(ds, seed=args.seed, meta={"data": Path(args.ced).name, "replay_split_seed": args.seed,
                                               "trained_on": "replay train part only"})
    out = Path(args.out)
    model.save(out)
    rng = random.Random(args.seed + 7)
    names = [n for _, n in platforms()]
    cal = parts["calib"]
    probs = model.predict_proba([as_stage_sees(events[i].text, rng.choice(names)) for i in cal]).tolist()
    labels = [int(y[i]) for i in cal]
    threshold, stats = choose_threshold(labels, probs, args.min_precision)
    test = parts["test"]
    tprobs = model.predict_proba([as_stage_sees(events[i].text, rng.choice(names)) for i in test]).tolist()
    tl = [int(y[i]) for i in test]
    tp = sum(1 for p_, l_ in zip(tprobs, tl) if p_ >= threshold and l_)
    fp = sum(1 for p_, l_ in zip(tprobs, tl) if p_ >= threshold and not l_)
    test_stats = {"precision": round(tp / max(1, tp + fp), 4), "recall": round(tp / max(1, sum(tl)), 4),
                  "note": "for information only: the replay evaluates on these events"}
    info = {"seed": args.seed, "parts": {k: len(v) for k, v in parts.items()},
            "rumours": {k: int(np.sum(y[v])) for k, v in parts.items()},
            "early_threshold": threshold, "min_precision": args.min_precision, "calib_first_post": stats,
            "test_first_post": test_stats, "ids": ids}
    (out / "replay_split.json").write_text(orjson.dumps(info, option=orjson.OPT_INDENT_2).decode())
    print(f"held-out model -> {out} in {time.monotonic() - started:.0f} s; parts {info['parts']} "
          f"(rumours {info['rumours']})")
    print(f"early-warning threshold {threshold} (calibration first posts: {stats}); "
          f"on the test part: {test_stats}")


# --- the stack, in this process, for --local ---------------------------------------------------------
class Stack:
    def __init__(self, settings: Any) -> None:
        import uvicorn

        from services.alerter.stage import AlerterStage
        from services.gateway.app import create_app as gateway_app
        from services.indexer.stage import IndexerStage
        from services.ingest.app import create_app as ingest_app
        from services.integrity.stage import IntegrityStage
        from services.sentiment.stage import SentimentStage
        from trustscope.alerts.config import AlertConfig
        from trustscope.alerts.engine import AlertEngine
        from trustscope.alerts.index import AlertIndices
        from trustscope.bus import StreamBus, parse_taps
        from trustscope.es import DocIndices, make_client
        from trustscope.integrity import IntegrityEngine
        from trustscope.intake import redis_client
        from trustscope.alerts.rescore import StoryRescorer
        from trustscope.rumour.scorer import RumourScorer
        from trustscope.sentiment import load_classifier
        from trustscope.worker import StreamWorker

        self.settings = settings
        client = redis_client(settings)
        es = make_client(settings)
        DocIndices(settings.es_index_prefix).migrate(es, replicas=0)
        alert_indices = AlertIndices(settings.es_index_prefix)
        alert_indices.migrate(es, replicas=0)
        bus = StreamBus(client, settings.stream_prefix, settings.max_deliveries, settings.claim_idle_ms,
                        taps=parse_taps(settings.stream_taps))
        scorer = RumourScorer.from_settings(settings)  # as services/integrity and services/alerter build it
        stages = [SentimentStage(load_classifier(threads=1)),
                  IntegrityStage(IntegrityEngine.from_redis(client, prefix=f"{settings.stream_prefix}:int"),
                                 rumour=scorer),
                  IndexerStage(es, DocIndices(settings.es_index_prefix)),
                  AlerterStage(AlertEngine(client, AlertConfig.from_settings(settings),
                                           rescorer=StoryRescorer(scorer)), es, alert_indices)]
        self.workers = [StreamWorker(s, bus, settings) for s in stages]
        self.servers = []
        self.urls = []
        for app in (ingest_app(settings), gateway_app(settings)):
            import socket

            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
            self.servers.append(server)
            self.urls.append(f"http://127.0.0.1:{port}")
        self.threads = [threading.Thread(target=w.run, daemon=True) for w in self.workers]
        self.threads += [threading.Thread(target=s.run, daemon=True) for s in self.servers]

    def __enter__(self) -> Stack:
        for t in self.threads:
            t.start()
        while not all(s.started for s in self.servers):
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        for w in self.workers:
            w.stop_event.set()
        for s in self.servers:
            s.should_exit = True
        for t in self.threads:
            t.join(timeout=30)


def warm_baselines(settings: Any, client: Any, args: argparse.Namespace, per_day: float, sim0: float,
                   social_per_day: float) -> None:
    """As if the system had run before: ``--warm-days`` of ordinary traffic teach each platform's
    baselines (rates only): reviews' signal posts (rumour-like by the lexicon, negative by the label;
    a sample of at most 100,000, each counted with its weight), and ordinary social stories (non-rumour
    CED events of the calibration part, never the played ones) whose first post the model finds
    rumour-like, as new rumour-like stories (the early-warning rate)."""
    from trustscope.alerts.config import AlertConfig
    from trustscope.alerts.rates import EARLY, RateModel
    from trustscope.rumour.lexicon import score_text
    from trustscope.rumour.scorer import RumourScorer

    if args.warm_days <= 0:
        return
    rng = random.Random(args.seed + 1)
    plats, weights = platforms(), zipf_weights(len(platforms()))
    cfg = AlertConfig.from_settings(settings)
    rates = RateModel(client, cfg)
    n = int(per_day * args.warm_days)
    sample = min(n, 100_000)
    weight = n / max(1, sample)
    t_start = sim0 - args.warm_days * 86400
    reviews = load_reviews(Path(args.reviews), 20_000, rng) if Path(args.reviews).exists() else []
    started = time.monotonic()
    counts: Counter[tuple[str, str, int]] = Counter()
    for i, t in enumerate(sorted(rng.uniform(t_start, sim0) for _ in range(sample))):
        doc, negative = ordinary_doc(i, t, rng, reviews, plats, weights, "warm")
        pid, hour = doc["platforms"][0], int(t // 3600)
        if score_text(doc["text"]).score >= cfg.rumour_threshold:
            counts[(pid, "rumour", hour)] += 1
        if negative:
            counts[(pid, "negative", hour)] += 1
    for (pid, kind, hour), c in sorted(counts.items(), key=lambda kv: kv[0][2]):
        rates.observe(pid, kind, hour * 3600 + 1800, posts=c * weight)
    early = 0
    split = load_split(args.model_dir)
    stories = int(social_per_day * args.warm_days)
    if split and stories:
        evs = load_events(Path(args.ced), stories, rng, set(split["ids"]["calib"]), label="non_rumour")
        scorer = RumourScorer.from_settings(settings)
        names = dict(plats)
        picks = [(rng.uniform(t_start, sim0), rng.choice(plats)[0]) for _ in evs]
        scored = scorer.score_texts([f"{names[pid]} {ev['text']}" for ev, (_t, pid) in zip(evs, picks)])
        for (t, pid), sc in sorted(zip(picks, scored), key=lambda x: x[0][0]):
            if sc.score >= cfg.early_threshold:
                rates.observe(pid, EARLY, t)
                early += 1
    for pid, _name in plats:
        for kind in ("rumour", "negative", EARLY):
            rates.observe(pid, kind, sim0, posts=0)  # exposure runs up to the replay's start
    print(f"baselines warmed with {n:,} ordinary posts (sample {sample:,}) and {stories} ordinary social stories "
          f"({early} rumour-like by the model) over {args.warm_days} simulated days ({time.monotonic() - started:.0f} s)")


def play(items: list[Item], ingest_url: str, key: str, compression: float, sim0: float) -> float:
    """Send items on their schedule (batches every 100 ms); returns the wall time the play took."""
    import httpx

    start = time.monotonic()
    i = 0
    with httpx.Client(base_url=ingest_url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as c:
        while i < len(items):
            now = time.monotonic() - start
            due = []
            while i < len(items) and items[i].sim_t / compression <= now:
                item = items[i]
                item.doc["created_at"] = sim0 + item.sim_t
                due.append(item)
                i += 1
            if due:
                wall = time.time()
                body = b"\n".join(orjson.dumps(it.doc) for it in due)
                r = c.post("/v1/documents/batch", content=body)
                if r.status_code == 503:
                    time.sleep(1)
                r.raise_for_status()
                for it in due:
                    it.sent_wall = wall
                rejected = r.json().get("rejected", 0)
                if rejected:
                    print(f"  {rejected} rejected: {r.json()['errors'][:2]}", file=sys.stderr)
            time.sleep(0.1)
    return time.monotonic() - start


def watch_backlogs(client: Any, prefix: str, stop: threading.Event, every_s: float = 20.0) -> None:
    """Print each stage's backlog while playing (where the system's delay comes from)."""
    while not stop.wait(every_s):
        lens = {s: client.xlen(f"{prefix}:stream:{s}") for s in ("ingest", "scored", "verified", "alerting")}
        try:
            lag = sum(int(g.get("lag") or 0) for g in client.xinfo_groups(f"{prefix}:stream:alerting"))
        except Exception:  # noqa: BLE001 - the tap's group may not exist yet
            lag = -1
        print(f"  backlog {lens}, alerter lag {lag}", flush=True)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = min(len(values) - 1, max(0, int(round(q / 100 * (len(values) - 1)))))
    return values[k]


def mixed(args: argparse.Namespace) -> None:
    import redis

    from trustscope.settings import Settings

    tag = uuid.uuid4().hex[:6]
    prefix = f"replay{tag}"
    played = build_mixed(args, tag)
    n_events = sum(1 for it in played.items if it.event)
    print(f"replay {tag}: {len(played.items)} posts ({n_events} from {args.events} CED events), "
          f"{args.wall_s} s wall x{args.compression} = {args.wall_s * args.compression / 3600:.1f} h simulated")
    split = load_split(args.model_dir)
    extra = model_overrides(args, split)
    if args.no_early:
        extra["alerts_early_enabled"] = False
    settings = Settings(redis_url=args.redis, es_url=args.es, stream_prefix=prefix, es_index_prefix=prefix,
                        api_keys=f"{tag}-ingest:ingest,{tag}-risk:risk_team", log_json=True, log_level="WARNING",
                        batch_wait_ms=100, rate_limit_per_s=1000.0, **extra)  # type: ignore[call-arg]
    print(f"rumour model {settings.rumour_model_dir} ({'held out: replayed events are its test part' if split else 'NO split file: the replayed events may be in its training data'}); "
          f"early warnings {'off' if args.no_early else f'at P >= {settings.alerts_early_threshold}'}")
    client = redis.Redis.from_url(args.redis)
    sim0 = time.time() - args.wall_s * args.compression - 3600  # every created_at lies in the past
    ordinary = sum(1 for it in played.items if not it.event)
    per_day = ordinary / (args.wall_s * args.compression / 86400)
    print(f"ordinary traffic: {per_day:,.0f} posts per simulated day over {len(platforms())} platforms")
    try:
        social = sum(1 for it in played.items if it.event and it.label != "rumour" and it.doc["source_id"].endswith("-0"))
        warm_baselines(settings, client, args, per_day, sim0, social / (args.wall_s * args.compression / 86400))
        with Stack(settings) as stack:
            stop = threading.Event()
            threading.Thread(target=watch_backlogs, args=(client, prefix, stop), daemon=True).start()
            took = play(played.items, stack.urls[0], f"{tag}-ingest", args.compression, sim0)
            stop.set()
            print(f"played in {took:.1f} s wall = {len(played.items) / took:.1f} posts/s")
            drain_until = time.monotonic() + args.drain_s
            while time.monotonic() < drain_until:
                backlog = sum(client.xlen(f"{prefix}:stream:{s}") for s in ("ingest", "scored", "verified"))
                tap = client.xinfo_groups(f"{prefix}:stream:alerting")
                lag = sum(int(g.get("lag") or 0) + int(g["pending"]) for g in tap) if tap else 0
                if backlog == 0 and lag == 0:
                    break
                time.sleep(1)
        report_mixed(args, played, client, prefix, sim0)
    finally:
        cleanup(client, args.es, prefix)


def report_mixed(args: argparse.Namespace, played: Played, client: Any, prefix: str, sim0: float) -> None:
    from trustscope.alerts.models import AlertEvent

    key = f"{prefix}:al"
    doc_ids = [document_id(SOURCE, it.doc["source_id"]) for it in played.items]
    pipe = client.pipeline(transaction=False)
    for d in doc_ids:
        pipe.hgetall(f"{key}:thr:{d}")
    stories_of = [{k.decode(): v.decode() for k, v in h.items()} for h in pipe.execute()]
    # each post's story on the event's platform (ordinary posts: their own platform)
    assigned: list[str | None] = []
    for it, st in zip(played.items, stories_of):
        platform = played.platform_of.get(it.event or "") or (it.doc.get("platforms") or [None])[0]
        assigned.append(st.get(platform) if platform else None)
    members: dict[str, list[int]] = defaultdict(list)
    for idx, s in enumerate(assigned):
        if s:
            members[s].append(idx)
    gold = [it.event or f"ord-{i}" for i, it in enumerate(played.items)]
    gold_size = Counter(gold)
    prec, rec = [], []
    for idx, it in enumerate(played.items):
        if not it.event:
            continue
        s = assigned[idx]
        if s is None:
            prec.append(1.0)
            rec.append(1.0 / gold_size[it.event])
            continue
        same = sum(1 for j in members[s] if gold[j] == it.event)
        prec.append(same / len(members[s]))
        rec.append(same / gold_size[it.event])
    labels = [it.label for it in played.items if it.event]
    for lab in ("rumour", "non_rumour"):
        sel = [i for i, x in enumerate(labels) if x == lab]
        if sel:
            print(f"  {lab} events: precision {statistics.mean(prec[i] for i in sel):.3f}, "
                  f"recall {statistics.mean(rec[i] for i in sel):.3f} over {len(sel)} posts")
    print(f"stories (B-cubed over {len(prec)} event posts): precision {statistics.mean(prec):.3f}, "
          f"recall {statistics.mean(rec):.3f}; unplaced event posts {sum(1 for i, it in enumerate(played.items) if it.event and assigned[i] is None)}")

    watched = {m.decode() for m in client.zrange(f"{key}:watch", 0, -1)}
    opened: dict[str, AlertEvent] = {}
    retracted: set[str] = set()
    for _mid, f in client.xrange(f"{key}:events", count=1_000_000):
        ev = AlertEvent.model_validate_json(f[b"data"])
        if ev.type == "alert.opened":
            opened[ev.alert.id] = ev
        elif ev.type == "alert.resolved" and ev.alert.resolved_by == "alerter" and ev.alert.phase == "early":
            retracted.add(ev.alert.id)
    # which event (if any) each alerted story belongs to: the majority of its played posts
    story_event: dict[str, str | None] = {}
    for s, idxs in members.items():
        top, n = Counter(gold[j] for j in idxs).most_common(1)[0]
        story_event[s] = top if not top.startswith("ord-") else None
    first_post: dict[str, Item] = {}
    by_event: dict[str, list[Item]] = defaultdict(list)
    for it in played.items:
        if it.event:
            by_event[it.event].append(it)
            first_post.setdefault(it.event, it)
    latencies, detect, system, walls = [], [], [], []
    alerted_events: set[str] = set()
    ordinary_alerts: Counter[str] = Counter()
    ordinary_rumour_alerts = 0
    nonrumour_alerts: Counter[str] = Counter()
    rumour_kind_alerts = rumour_kind_true = 0
    phases: Counter[str] = Counter()
    for aid, ev in opened.items():
        event = story_event.get(aid)
        if ev.alert.kind == "rumour":
            rumour_kind_alerts += 1
        if event is None:
            ordinary_alerts[ev.alert.platform] += 1
            ordinary_rumour_alerts += ev.alert.kind == "rumour"
            continue
        if first_post[event].label != "rumour":
            nonrumour_alerts[f"{ev.alert.kind}/{ev.alert.phase}"] += 1
            continue
        if ev.alert.kind == "rumour":
            rumour_kind_true += 1
        if event in alerted_events:
            continue
        alerted_events.add(event)
        phases[ev.alert.phase] += 1
        first = first_post[event]
        trigger_t = ev.alert.last_seen.timestamp()
        sent = [it for it in by_event[event] if it.doc["created_at"] <= trigger_t + 1e-3]
        trigger = max(sent, key=lambda it: it.doc["created_at"]) if sent else first
        d = trigger_t - first.doc["created_at"]
        s = ev.alert.opened_at.timestamp() - trigger.sent_wall
        detect.append(d)
        system.append(s)
        latencies.append(d + s)
        walls.append(ev.alert.opened_at.timestamp() - first.sent_wall)
    rumour_events = {e for e, it in first_post.items() if it.label == "rumour"}
    n_non = len(first_post) - len(rumour_events)
    print(f"rumour events alerted: {len(alerted_events)}/{len(rumour_events)} (recall "
          f"{len(alerted_events) / max(1, len(rumour_events)):.3f}; opened as {dict(phases)}); non-rumour events "
          f"alerted: {sum(nonrumour_alerts.values())}/{n_non} {dict(nonrumour_alerts)}")
    print(f"rumour-kind alerts: {rumour_kind_alerts}, of which on rumour events {rumour_kind_true} (alert precision "
          f"{rumour_kind_true / max(1, rumour_kind_alerts):.3f}); on ordinary-traffic stories {ordinary_rumour_alerts}; "
          f"early warnings retracted after re-scoring: {len(retracted)} "
          f"({sum(1 for a in retracted if story_event.get(a) in rumour_events)} of them on rumour events)")
    promoted = [a for a, ev in opened.items() if any("promoted from watch" in (h.get("note") or "")
                                                     for h in ev.alert.history)]
    held_rumours = {story_event.get(s) for s in watched} & rumour_events
    print(f"page budget: {len(watched)} stories still on watch ({len(held_rumours)} of them rumour events, "
          f"{len({story_event.get(s) for s in watched if story_event.get(s)} - rumour_events)} other events, "
          f"{sum(1 for s in watched if story_event.get(s) is None)} ordinary); {len(promoted)} alerts promoted from watch "
          f"({sum(1 for a in promoted if story_event.get(a) in rumour_events)} on rumour events)")
    within = sum(1 for x in latencies if x <= 60)
    print(f"alert latency, first post -> alert (live-equivalent): p50 {pct(latencies, 50):.1f} s, "
          f"p95 {pct(latencies, 95):.1f} s, max {max(latencies, default=float('nan')):.1f} s; alerted within 60 s: "
          f"{within}/{len(rumour_events)} rumour events")
    print(f"alert latency as replayed (wall clock, x{args.compression:g} compressed): p50 {pct(walls, 50):.1f} s, "
          f"p95 {pct(walls, 95):.1f} s")
    print(f"  of which simulated time to the tipping post: p50 {pct(detect, 50):.1f} s, p95 {pct(detect, 95):.1f} s;"
          f" system delay (sent -> alert, wall): p50 {pct(system, 50):.2f} s, p95 {pct(system, 95):.2f} s")
    sim_days = args.wall_s * args.compression / 86400
    n_plat = len(platforms())
    print(f"alerts on ordinary-traffic stories: {sum(ordinary_alerts.values())} in {sim_days:.2f} simulated days "
          f"over {n_plat} platforms = {sum(ordinary_alerts.values()) / n_plat / sim_days:.2f} per platform per day "
          f"{dict(ordinary_alerts.most_common(5))}")


def noise(args: argparse.Namespace) -> None:
    import redis

    from trustscope.alerts.config import AlertConfig
    from trustscope.alerts.engine import AlertEngine
    from trustscope.alerts.models import Post
    from trustscope.rumour.lexicon import score_text
    from trustscope.text import normalize_text, to_simplified

    tag = uuid.uuid4().hex[:6]
    prefix = f"noise{tag}"
    rng = random.Random(args.seed)
    plats = platforms()
    weights = zipf_weights(len(plats))
    client = redis.Redis.from_url(args.redis)
    total = int(args.days * args.per_day)
    reviews = load_reviews(Path(args.reviews), 60_000, rng) if Path(args.reviews).exists() else []
    t_end = time.time() - 3600
    t0 = t_end - args.days * 86400
    clock = {"t": t0}
    from trustscope.settings import Settings

    from trustscope.alerts.rescore import StoryRescorer
    from trustscope.rumour.scorer import RumourScorer

    split = load_split(args.model_dir)
    extra = model_overrides(args, split)
    settings = Settings(stream_prefix=prefix, **extra)  # type: ignore[call-arg]  # TS_ALERTS_* apply
    config = AlertConfig.from_settings(settings)
    scorer = RumourScorer.from_settings(settings)
    engine = AlertEngine(client, config, clock=lambda: clock["t"], rescorer=StoryRescorer(scorer))
    social = social_posts(args, rng, plats, weights, t0, t_end, split, tag)
    surge = surge_posts(args, plats, t0, tag)
    if social:
        scored = scorer.score_texts([to_simplified(normalize_text(p["text"])) for p in social])
        for p, sc in zip(social, scored):
            p["rumour"], p["terms"], p["engine"] = sc.score, sc.terms, sc.engine
    print(f"noise: {total:,} reviews and {len(social):,} social posts ({args.social_per_day:g} ordinary social "
          f"stories a day: non-rumour CED events{' of the held-out part' if split else ''}); rumour model "
          f"{settings.rumour_model_dir}, early warnings at P >= {config.early_threshold}")
    times = sorted(rng.uniform(t0, t_end) for _ in range(total))
    stream: list[tuple[float, int, dict[str, Any] | None]] = [(t, i, None) for i, t in enumerate(times)]
    stream += [(p["t"], -1 - j, p) for j, p in enumerate(social)]
    stream += [(p["t"], -1 - len(social) - j, p) for j, p in enumerate(surge)]
    stream.sort(key=lambda x: x[0])
    per_platform_day: Counter[tuple[str, int]] = Counter()
    by_phase: Counter[str] = Counter()
    first_day: Counter[str] = Counter()
    promoted = 0
    pages: dict[str, list[float]] = defaultdict(list)  # platform -> event times of its alerts' openings
    opened_alerts: list[Any] = []
    started = time.monotonic()
    try:
        batch: list[Post] = []
        for n_done, (t, i, sp) in enumerate(stream):
            if sp is None:
                doc, negative = ordinary_doc(i, t, rng, reviews, plats, weights, tag)
                text = to_simplified(normalize_text(doc["text"]))
                rumour = score_text(text)
                batch.append(Post(id=f"{tag}-{i}", platforms=doc["platforms"], author_id=doc["author"]["id"],
                                  text=text, created_at=t, ingested_at=t, rumour=rumour.score,
                                  rumour_terms=rumour.terms, rumour_engine=rumour.engine,
                                  negative=negative, prob_positive=0.1 if negative else 0.9))
            elif sp.get("surge"):  # a genuine complaint surge: reviews, scored as the stages score reviews
                text = to_simplified(normalize_text(sp["text"]))
                rumour = score_text(text)
                batch.append(Post(id=sp["id"], platforms=sp["platforms"], author_id=sp["author"], text=text,
                                  created_at=t, ingested_at=t, rumour=rumour.score, rumour_terms=rumour.terms,
                                  rumour_engine=rumour.engine, negative=True, prob_positive=0.05))
            else:  # sentiment of social posts is not modelled here: they count on the rumour paths only
                batch.append(Post(id=sp["id"], platforms=sp["platforms"], author_id=sp["author"],
                                  text=to_simplified(normalize_text(sp["text"])), created_at=t, ingested_at=t,
                                  root_id=sp.get("root_id"), parent_id=sp.get("parent_id"), rumour=sp["rumour"],
                                  rumour_terms=sp["terms"], rumour_engine=sp["engine"]))
            if len(batch) == 200 or n_done == len(stream) - 1:
                clock["t"] = batch[-1].created_at + 5
                for ev in engine.process(batch):
                    if ev.type == "alert.opened":
                        promoted += any("promoted from watch" in (h.get("note") or "") for h in ev.alert.history)
                        pages[ev.alert.platform].append(ev.alert.last_seen.timestamp())
                        opened_alerts.append(ev.alert)
                        day = int((ev.alert.last_seen.timestamp() - t0) // 86400)
                        per_platform_day[(ev.alert.platform, day)] += 1
                        by_phase[f"{ev.alert.kind}/{ev.alert.phase}"] += 1
                        if day == 0:
                            first_day[ev.alert.platform] += 1
                batch = []
        print(f"alerts by kind/phase: {dict(by_phase)}")
        held = engine.watched(limit=100_000)
        print(f"page budget {config.budget_s / 86400:g} days: {len(held)} stories held on watch "
              f"{dict(Counter(st.platform for st in held).most_common(8))}, {promoted} promoted to an alert")
        took = time.monotonic() - started
        alerts = sum(per_platform_day.values())
        later = sum(v for (p, d), v in per_platform_day.items() if d > 0)
        by_platform = Counter()
        for (p, _d), v in per_platform_day.items():
            by_platform[p] += v
        weeks = args.days / 7
        total = len(stream)
        print(f"noise {tag}: {total} ordinary posts over {args.days} simulated days ({args.per_day}/day, Zipf over "
              f"{len(plats)} platforms), engine {total / took:.0f} posts/s")
        print(f"alerts: {alerts} in total; {sum(first_day.values())} on day 1 (baselines learning), {later} after")
        print(f"per platform per week: mean {alerts / len(plats) / weeks:.3f}, max "
              f"{max(by_platform.values(), default=0) / weeks:.2f} ({by_platform.most_common(3)}); "
              f"per platform per day: {alerts / len(plats) / args.days:.4f}")
        if args.days > 1:
            steady = Counter()
            for (p, d), v in per_platform_day.items():
                if d > 0:
                    steady[p] += v
            wk = (args.days - 1) / 7
            print(f"after day 1: {later} alerts in {args.days - 1:g} days = {later / len(plats) / wk:.3f} per platform "
                  f"per week (max {max(steady.values(), default=0) / wk:.2f}: {steady.most_common(3)})")
        worst = {p: most_in_window(ts, 7 * 86400) for p, ts in pages.items()}
        top = sorted(worst.items(), key=lambda kv: -kv[1])[:3]
        print(f"most alerts on one platform within any 7 simulated days: {max(worst.values(), default=0)} {top}")
        for a in sorted((a for a in opened_alerts if worst.get(a.platform, 0) > 1), key=lambda a: (a.platform, a.last_seen)):
            print(f"  {a.platform} day {(a.last_seen.timestamp() - t0) / 86400:.2f}: {a.kind}/{a.phase} volume {a.volume} "
                  f"window surprise {a.surprise:.1f} P {a.rumour_prob:.2f} neg {a.negative_share:.2f} "
                  f"{a.history[-1].get('note') or ''} | {a.headline[:40]}")
        if surge:
            report_surge(engine, surge, opened_alerts, pages, t0)
        busiest = [p for p, _ in plats[:3]]
        print(f"busiest platforms (share {sum(weights[:3]):.0%} of traffic) {busiest}: "
              f"{sum(by_platform[p] for p in busiest)} alerts")
    finally:
        cleanup(client, None, prefix)


def surge_posts(args: argparse.Namespace, plats: list[tuple[str, str]], t0: float, tag: str) -> list[dict[str, Any]]:
    """``--surge PLATFORM@DAY``: ``--surge-posts`` complaints about one platform from as many people,
    evenly over ``--surge-minutes`` from that simulated day on (a genuine surge, not ordinary traffic)."""
    if not args.surge:
        return []
    pid, _, day = args.surge.partition("@")
    names = dict(plats)
    if pid not in names:
        raise SystemExit(f"--surge: unknown platform {pid!r}")
    start = t0 + float(day or 3) * 86400
    gap = args.surge_minutes * 60 / max(1, args.surge_posts)
    texts = SURGE_SAME if args.surge_texts == "same" else SURGE_VARIED
    return [{"id": f"{tag}-surge{j}", "platforms": [pid], "author": f"{tag}-surger{j}", "surge": True,
             "t": start + j * gap, "text": texts[j % len(texts)].format(names[pid]) + f"（{200 + 37 * j}元）"}
            for j in range(args.surge_posts)]


def report_surge(engine: Any, surge: list[dict[str, Any]], opened: list[Any], pages: dict[str, list[float]],
                 t0: float) -> None:
    """Did the surge page? Its stories (where its posts went), their alerts or watch records."""
    pid, start = surge[0]["platforms"][0], surge[0]["t"]
    sids = {engine.stories.thread_stories(p["id"]).get(pid) for p in surge} - {None}
    before = [t for t in pages.get(pid, []) if t < start]
    print(f"surge: {len(surge)} complaints about {pid} from day {(start - t0) / 86400:.2f} in "
          f"{(surge[-1]['t'] - start) / 60:.0f} min -> {len(sids)} stor{'y' if len(sids) == 1 else 'ies'}; the "
          f"platform's pages before it: {[round((t - t0) / 86400, 2) for t in before]}")
    for a in (a for a in opened if a.id in sids):
        note = a.history[-1].get("note") or "the platform's budget was free"
        print(f"  PAGED {a.kind}/{a.phase} at day {(a.last_seen.timestamp() - t0) / 86400:.3f} "
              f"({a.last_seen.timestamp() - start:.0f} s after the surge began), volume {a.volume}, surprise "
              f"{a.surprise:.1f}: {note}")
    for st in engine.stories.get_many(sorted(sids)):
        if st is not None and st.watch is not None:
            print(f"  HELD on watch: {st.watch.kind}/{st.watch.phase} severity {st.watch.severity}: {st.watch.reason}")
    if not any(a.id in sids for a in opened):
        print("  the surge did NOT page")


def most_in_window(times: list[float], span_s: float) -> int:
    """The most of ``times`` that fall within any ``span_s`` (a sliding window, both ends exact)."""
    ts, best, i = sorted(times), 0, 0
    for j, t in enumerate(ts):
        while t - ts[i] >= span_s:
            i += 1
        best = max(best, j - i + 1)
    return best


def social_posts(args: argparse.Namespace, rng: random.Random, plats: list[tuple[str, str]], weights: list[float],
                 t0: float, t_end: float, split: dict[str, Any] | None, tag: str) -> list[dict[str, Any]]:
    """Ordinary social stories: non-rumour CED events (the held-out part when there is a split),
    each about a platform chosen like ordinary traffic (Zipf), its reposts within ``--horizon-h``
    (at most ``--max-reposts``), a quarter of them as unthreaded copies, as in ``mixed``."""
    n = int(args.social_per_day * args.days)
    if n <= 0:
        return []
    only = set(split["ids"]["test"]) if split else None
    pool = load_events(Path(args.ced), 10**6, rng, only, label="non_rumour")
    out: list[dict[str, Any]] = []
    for k in range(n):
        ev = pool[k % len(pool)]  # reused (about another platform) when the pool is smaller than n
        pid, name = rng.choices(plats, weights)[0]
        start = rng.uniform(t0, t_end)
        eid = f"{tag}-s{k}"
        original = f"{name} {ev['text']}"[:2000]
        root = f"{eid}-0"
        out.append({"id": root, "platforms": [pid], "author": f"{eid}-author", "text": original, "t": start})
        mids = {r["mid"] for r in ev["reposts"]}
        for rep in [r for r in ev["reposts"] if 0 <= r["time"] - ev["time"] <= args.horizon_h * 3600][:args.max_reposts]:
            t = start + rep["time"] - ev["time"]
            if t >= t_end:
                break
            text = (rep.get("text") or "").strip() or "转发微博"
            post: dict[str, Any] = {"id": f"{eid}-{rep['mid']}", "author": f"{tag}-{rep['uid']}", "t": t}
            if rng.random() < 0.25:
                post.update(text=(text + "//" + original)[:2000], platforms=[pid])
            else:
                parent = rep.get("parent") or ""
                post.update(text=text[:2000], platforms=[], root_id=root,
                            parent_id=f"{eid}-{parent}" if parent in mids and parent != rep["mid"] else root)
            out.append(post)
    return out


def cleanup(client: Any, es_url: str | None, prefix: str) -> None:
    batch: list[Any] = []
    for key in client.scan_iter(f"{prefix}:*", count=10_000):  # hundreds of thousands of keys: in batches
        batch.append(key)
        if len(batch) >= 5000:
            client.unlink(*batch)
            batch = []
    if batch:
        client.unlink(*batch)
    if es_url:
        from elasticsearch import Elasticsearch

        es = Elasticsearch(es_url)
        names = list(es.indices.get(index=f"{prefix}-*", allow_no_indices=True).body)
        if names:
            es.indices.delete(index=",".join(names), ignore_unavailable=True)
        for t in (f"{prefix}-docs", f"{prefix}-alerts"):
            es.options(ignore_status=404).indices.delete_index_template(name=t)


def confirm(args: argparse.Namespace) -> None:
    """Choose the watch state's corroboration threshold on the calibration part (no retraining): each
    calibration event is played as the alerter re-scores a story (its first post with a platform name,
    then its reposts within ``--horizon-h`` as they arrive, scored at the re-scoring volumes); an event
    is corroborated at c when a re-score at volume >= ``--min-posts`` reaches c. The threshold is the
    lowest c whose precision over the events the first post already made rumour-like is >=
    ``--min-precision``; recall and precision over all events are printed beside it."""
    from trustscope.alerts.config import AlertConfig
    from trustscope.alerts.rescore import StoryRescorer
    from trustscope.rumour.scorer import RumourScorer
    from trustscope.settings import Settings

    split = load_split(args.model_dir)
    if split is None:
        sys.exit("no replay_split.json beside the model: run `prepare` first")
    settings = Settings(**model_overrides(args, split))  # type: ignore[arg-type]
    cfg = AlertConfig.from_settings(settings)
    scorer = RumourScorer.from_settings(settings)
    rescorer = StoryRescorer(scorer)
    rng = random.Random(args.seed + 7)
    names = [n for _, n in platforms()]
    events = load_events(Path(args.ced), 10**6, rng, set(split["ids"][args.part]))
    points = [v for v in cfg.rescore_at if v >= args.min_posts]
    started = time.monotonic()
    rows: list[tuple[int, float, float]] = []  # (label, first-post P, best re-score at >= min_posts)
    for ev in events:
        head = f"{rng.choice(names)} {ev['text']}"[:2000]
        reps = sorted((r for r in ev["reposts"] if 0 <= r["time"] - ev["time"] <= args.horizon_h * 3600),
                      key=lambda r: r["time"])[:args.max_reposts]
        posts = [{"id": "0", "parent": "", "uid": "head", "text": head, "t": float(ev["time"])}]
        posts += [{"id": str(r["mid"]), "parent": str(r.get("parent") or "0"), "uid": str(r["uid"]),
                   "text": (r.get("text") or "").strip() or "转发微博", "t": float(r["time"])} for r in reps]
        first = scorer.score_texts([head])[0].score
        best = max((rescorer.score(posts[:v]) or 0.0 for v in points if v <= len(posts)), default=0.0)
        rows.append((1 if ev["label"] == "rumour" else 0, first, best))
    early = [(lab, best) for lab, first, best in rows if first >= cfg.early_threshold]
    print(f"{len(rows)} {args.part} events ({sum(r[0] for r in rows)} rumours) scored in "
          f"{time.monotonic() - started:.0f} s; {len(early)} rumour-like at the first post "
          f"(P >= {cfg.early_threshold}), {sum(1 for lab, _ in early if not lab)} of them not rumours")
    for c in (0.74, 0.8, 0.85, 0.9, 0.95, 0.97, 0.99, 0.995, 0.999):
        tp = sum(1 for lab, b in early if b >= c and lab)
        fp = sum(1 for lab, b in early if b >= c and not lab)
        atp = sum(1 for lab, _f, b in rows if b >= c and lab)
        afp = sum(1 for lab, _f, b in rows if b >= c and not lab)
        print(f"  c {c:g}: of the first-post rumour-like: corroborated {tp} rumours, {fp} not "
              f"(precision {tp / max(1, tp + fp):.3f}); all events: precision {atp / max(1, atp + afp):.3f}, "
              f"recall {atp / max(1, sum(r[0] for r in rows)):.3f}, non-rumours corroborated "
              f"{afp}/{sum(1 for r in rows if not r[0])}")
    threshold, stats = choose_threshold([lab for lab, _ in early], [b for _, b in early], args.min_precision)
    print(f"corroboration threshold (lowest with precision >= {args.min_precision} over the first-post "
          f"rumour-like {args.part} events): {threshold} {stats}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("mixed", help="CED events mixed with ordinary traffic, through the system")
    m.add_argument("--local", action="store_true", help="start the stack in this process (required for now)")
    m.add_argument("--rate", type=float, default=100.0, help="posts per wall second, all traffic")
    m.add_argument("--wall-s", type=float, default=180.0)
    m.add_argument("--compression", type=float, default=400.0, help="simulated seconds per wall second")
    m.add_argument("--warm-days", type=float, default=3.0, help="ordinary traffic that teaches baselines first")
    m.add_argument("--events", type=int, default=40, help="CED events (half rumour, half not)")
    m.add_argument("--horizon-h", type=float, default=3.0, help="reposts within this long of the original")
    m.add_argument("--max-reposts", type=int, default=150)
    m.add_argument("--copy-share", type=float, default=0.25, help="reposts sent as unthreaded copies")
    m.add_argument("--claims", action="store_true", help="place claim phrases in rumour events' texts (the old "
                   "replay, for the lexicon; off by default: the model must find CED's rumours as they are)")
    m.add_argument("--shared-platforms", action="store_true", help="rumour events' platforms drawn with "
                   "replacement (default: each rumour about a different platform)")
    m.add_argument("--no-early", action="store_true", help="switch early warnings off (bursts only)")
    m.add_argument("--drain-s", type=float, default=60.0)
    n = sub.add_parser("noise", help="ordinary traffic alone over simulated days, through the alert engine")
    n.add_argument("--days", type=float, default=7.0)
    n.add_argument("--per-day", type=int, default=20_000, help="ordinary reviews per day over all platforms")
    n.add_argument("--social-per-day", type=float, default=40.0,
                   help="ordinary social stories (non-rumour CED events with their reposts) per day")
    n.add_argument("--horizon-h", type=float, default=3.0)
    n.add_argument("--max-reposts", type=int, default=150)
    n.add_argument("--surge", default=None, metavar="PLATFORM@DAY",
                   help="add one genuine complaint surge about PLATFORM on that simulated day (e.g. wechat-pay@3)")
    n.add_argument("--surge-posts", type=int, default=40, help="complaints in the surge, one per person")
    n.add_argument("--surge-minutes", type=float, default=20.0, help="the surge's duration")
    n.add_argument("--surge-texts", default="same", choices=["same", "varied"],
                   help="same: one complaint passed on with small changes (one story); varied: four wordings")
    for p in (m, n):
        p.add_argument("--model-dir", default=str(HELD_OUT_DIR) if (HELD_OUT_DIR / "replay_split.json").exists() else None,
                       help="rumour model (default: the held-out one `prepare` wrote, if any)")
        p.add_argument("--early-threshold", type=float, default=None,
                       help="early-warning P(rumour) (default: the one `prepare` chose on the calibration part)")
        p.add_argument("--redis", default="redis://127.0.0.1:6379/0")
        p.add_argument("--es", default="http://127.0.0.1:9200")
        p.add_argument("--ced", default=str(DATA / "rumour_ced_train.jsonl.gz"))
        p.add_argument("--reviews", default=str(DATA / "sentiment_reviews.jsonl.gz"))
        p.add_argument("--seed", type=int, default=12)
    pr = sub.add_parser("prepare", help="train a held-out rumour model + early-warning threshold for the replay")
    pr.add_argument("--out", default=str(HELD_OUT_DIR))
    pr.add_argument("--min-precision", type=float, default=0.95,
                    help="the early-warning threshold is the lowest with this precision on the calibration part")
    pr.add_argument("--ced", default=str(DATA / "rumour_ced_train.jsonl.gz"))
    pr.add_argument("--seed", type=int, default=12)
    co = sub.add_parser("confirm", help="choose the watch state's corroboration threshold on the calibration part")
    co.add_argument("--model-dir", default=str(HELD_OUT_DIR))
    co.add_argument("--early-threshold", type=float, default=None)
    co.add_argument("--ced", default=str(DATA / "rumour_ced_train.jsonl.gz"))
    co.add_argument("--part", default="calib", choices=["calib", "test"],
                    help="calib chooses; test only reports (the replays play the test part)")
    co.add_argument("--min-posts", type=int, default=5, help="re-scores from this volume on corroborate")
    co.add_argument("--min-precision", type=float, default=0.99)
    co.add_argument("--horizon-h", type=float, default=3.0)
    co.add_argument("--max-reposts", type=int, default=150)
    co.add_argument("--seed", type=int, default=12)
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the clean-up in ``finally`` runs
    if args.cmd == "prepare":
        prepare(args)
    elif args.cmd == "confirm":
        confirm(args)
    elif args.cmd == "mixed":
        if not args.local:
            ap.error("mixed needs --local (it reads story state from the stack's Redis prefix)")
        mixed(args)
    else:
        noise(args)


if __name__ == "__main__":
    main()
