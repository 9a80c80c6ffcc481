"""Rumour model benchmark: text-only scoring (the integrity stage's case), batch classification of
whole events at a horizon and with full propagation, and one huge event (100k reposts).

Uses the shipped model and real CED texts/events when ../shared/data is present (otherwise
synthetic ones). One process, one thread: the numbers are per core.

    python bench/bench_rumour.py                      # defaults: 20,000 texts, 1,000 events
    python bench/bench_rumour.py --texts 50000 --events 2742 --model models/trustscope-rumour-zh
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import platform
import random
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson  # noqa: E402

from trustscope.cli.rumour_cmd import classify_stream  # noqa: E402
from trustscope.rumour.model import DEFAULT_DIR, RumourModel  # noqa: E402
from trustscope.rumour.scorer import RumourScorer  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "rumour_ced_train.jsonl.gz"


def load_events(limit: int) -> list[dict]:
    if DATA.exists():
        out = []
        with gzip.open(DATA, "rt", encoding="utf-8") as fh:
            for line in fh:
                obj = json.loads(line)
                obj.pop("label", None)
                out.append(obj)
        return out[:limit]
    rng = random.Random(0)
    words = ["网传", "平台", "跑路", "提现", "官方", "发布", "今天", "消息", "扩散", "真的吗"]
    return [{"id": f"s{i}", "text": "".join(rng.choice(words) for _ in range(40)), "time": 1e9,
             "reposts": [{"mid": f"m{k}", "parent": "", "uid": f"u{k}", "text": rng.choice(words) * 3,
                          "time": 1e9 + 60 * k} for k in range(300)]} for i in range(limit)]


def bench_texts(scorer: RumourScorer, texts: list[str], batch: int, encodings: list | None = None) -> str:
    """Scoring rate (wall clock, and per CPU-second of this process: the figure that means something
    on a shared, loaded machine); ``encodings`` (one per batch, computed beforehand) stands for the
    pooled embedding the sentiment stage already computed, so only the heads' cost is timed."""
    start, cpu = time.perf_counter(), time.process_time()
    for k, i in enumerate(range(0, len(texts), batch)):
        scorer.score_texts(texts[i:i + batch], encoding=encodings[k] if encodings else None)
    wall, used = time.perf_counter() - start, time.process_time() - cpu
    return f"{len(texts) / wall:,.0f} docs/s ({len(texts) / used:,.0f} per CPU-second)"


def bench_classify(model: RumourModel, lines: bytes, n: int, horizon: float | None, embedder=None) -> float:
    out = io.BytesIO()
    start = time.perf_counter()
    classify_stream(io.BytesIO(lines), out, model, horizon, embedder=embedder)
    return n / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=DEFAULT_DIR)
    ap.add_argument("--texts", type=int, default=20_000)
    ap.add_argument("--events", type=int, default=1_000)
    ap.add_argument("--batch", type=int, default=256, help="texts per scorer call (the stage's batch)")
    ap.add_argument("--encoder", type=Path, default=None, help="encoder dir (default: TS_SENTIMENT_MODEL_DIR)")
    ap.add_argument("--no-encoder", action="store_true", help="skip the encoder-view measurements")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("TS_TORCH_THREADS", "1")
    model = RumourModel.load(args.model)
    scorer = RumourScorer(model)
    events = load_events(max(args.events, 1))
    base = [e["text"] for e in events]
    texts = [base[i % len(base)] for i in range(args.texts)]
    mean_len = sum(map(len, texts)) / len(texts)
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.machine()} "
          f"{os.cpu_count()} CPUs, python {platform.python_version()}, data={'CED' if DATA.exists() else 'synthetic'}")
    print(f"text-only scoring: {bench_texts(scorer, texts, args.batch)} "
          f"({len(texts)} texts, mean {mean_len:.0f} chars, batch {args.batch})")
    embedder = None
    if model.encoder is not None and not args.no_encoder:
        from trustscope.rumour.encoder import encode_events, load_embedder
        from trustscope.rumour.events import RumourEvent

        from trustscope.rumour.encoder import find_encoder_dir

        where = args.encoder or find_encoder_dir(model.encoder.encoder_name, model.encoder.encoder_id)
        embedder = load_embedder(where, model.encoder.encoder_id) if where else None
    if embedder is not None:
        import numpy as np

        from trustscope.rumour.model import EventEncoding

        # one embedding per distinct text (the texts repeat the events' posts), sliced per batch
        uniq = encode_events(embedder, [RumourEvent(None, t, 0.0, None, [], 0.0) for t in base])
        encs = []
        for i in range(0, len(texts), args.batch):
            rows = np.arange(i, min(i + args.batch, len(texts))) % len(base)
            encs.append(EventEncoding(uniq.post[rows], uniq.comments[rows], uniq.comment_count[rows],
                                      uniq.encoder_id))
        print(f"text-only scoring with the sentiment stage's embedding (heads only): "
              f"{bench_texts(scorer, texts, args.batch, encs)}")
        sample = base[:500]
        start = time.perf_counter()
        encode_events(embedder, [RumourEvent(None, t, 0.0, None, [], 0.0) for t in sample])
        print(f"  (the encoder's own forward pass, not in the stage: {len(sample) / (time.perf_counter() - start):,.0f} "
              f"texts/s on {model.encoder.encoder_name})")
    lines = b"\n".join(orjson.dumps(e) for e in events[:args.events]) + b"\n"
    n = min(args.events, len(events))
    mean_reposts = sum(len(e.get("reposts") or []) for e in events[:n]) / n
    for h in (0.0, 1.0, None):
        rate = bench_classify(model, lines, n, h)
        print(f"classify --horizon-hours {'full' if h is None else h:>4} --no-encoder: {rate:,.0f} events/s "
              f"({n} events, mean {mean_reposts:.0f} reposts)")
        if embedder is not None:
            rate = bench_classify(model, lines, n, h, embedder)
            print(f"classify --horizon-hours {'full' if h is None else h:>4} with the encoder view: {rate:,.0f} events/s")
    reposts = [{"mid": f"m{k}", "parent": f"m{k // 3}" if k else "", "uid": f"u{k % 5000}",
                "text": f"评论{k}，真的吗" if k % 2 else "转发微博", "time": 1e9 + k} for k in range(100_000)]
    big = orjson.dumps({"id": "big", "text": base[0], "time": 1e9, "reposts": reposts}) + b"\n"
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    classify_stream(io.BytesIO(big), io.BytesIO(), model, None)
    secs = time.perf_counter() - start
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"one event with 100,000 reposts ({len(big) / 1e6:.1f} MB line): {secs:.2f} s, "
          f"peak RSS growth {(rss1 - rss0) / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
