"""Sentiment throughput on this machine: the default model vs SnowNLP vs a bert-base-sized model.

All BERT numbers go through the same library path (``trustscope.sentiment.load_classifier`` ->
``classify``): tokenizing, length bucketing, batching, neutral band. The bert-base-sized model has
random weights (768 hidden, 12 layers, 12 heads) — only its speed matters. Also reports the peak
resident memory of a fresh process that loads the default model and classifies reviews.

    python bench/bench_sentiment.py [--n 5000] [--n-base 500] [--n-snownlp 500] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

FIXTURE = REPO / "tests" / "fixtures" / "sentiment_zh_fixture.jsonl"


def bench_texts(n: int, seed: int = 7) -> tuple[list[str], str]:
    """Review texts from the shared test split when available, else the hand-written fixture."""
    from trustscope.sentiment.data import (
        REVIEWS_FILE,
        load_reviews,
        random_split,
        shared_data_dir,
    )

    if (shared_data_dir() / REVIEWS_FILE).exists():
        test = random_split(load_reviews()).test
        texts = [r.text for r in test]
        src = f"shared review test split ({len(texts)} texts)"
    else:
        texts = [json.loads(x)["text"] for x in FIXTURE.read_text(encoding="utf-8").splitlines() if x.strip()]
        src = "tests/fixtures (shared data absent)"
    rng = random.Random(seed)
    return [rng.choice(texts) for _ in range(n)], src


def rate(fn, texts: list[str], repeat: int = 1) -> float:
    fn(texts[: min(64, len(texts))])  # warm-up
    best = 0.0
    for _ in range(repeat):
        t = time.perf_counter()
        fn(texts)
        best = max(best, len(texts) / (time.perf_counter() - t))
    return best


def cpu_name() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or "unknown"


def rss_child(n: int, threads: int) -> None:
    """Run in a fresh process: load the default model, classify n reviews, print peak RSS (MB)."""
    from trustscope.sentiment import load_classifier

    texts, _ = bench_texts(n)
    clf = load_classifier(threads=threads)
    for i in range(0, len(texts), 256):
        clf.classify(texts[i:i + 256])
    print(json.dumps({"peak_rss_mb": peak_rss_mb()}))


def peak_rss_mb() -> float:
    """VmHWM of this process. Not ru_maxrss: Linux carries that over from the parent across
    fork+exec, so a child of a big benchmark process would report the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5000, help="reviews for the default model")
    ap.add_argument("--n-base", type=int, default=500, help="reviews for the bert-base-sized model")
    ap.add_argument("--n-snownlp", type=int, default=500, help="reviews for SnowNLP")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=2, help="timed repetitions (best is kept)")
    ap.add_argument("--rss-child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.rss_child:
        rss_child(args.n, args.threads)
        return

    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from trustscope.sentiment import load_classifier
    from trustscope.settings import get_settings

    texts, src = bench_texts(args.n)
    rows = []
    clf = load_classifier(threads=args.threads)
    r_default = rate(lambda t: clf.classify(t, batch_size=args.batch), texts, args.repeat)
    rows.append(("trustscope-sentiment-zh (fp32)", len(texts), r_default))
    qclf = load_classifier(threads=args.threads, quantize=True)
    r_q = rate(lambda t: qclf.classify(t, batch_size=args.batch), texts, args.repeat)
    a = [x.prob_positive > 0.5 for x in clf.classify(texts[:2000])]
    b = [x.prob_positive > 0.5 for x in qclf.classify(texts[:2000])]
    agree = sum(x == y for x, y in zip(a, b)) / len(a)
    rows.append((f"trustscope-sentiment-zh (int8 dynamic, {agree:.2%} same label)", len(texts), r_q))

    with tempfile.TemporaryDirectory() as tmp:
        tok = AutoTokenizer.from_pretrained(get_settings().sentiment_model_dir, local_files_only=True)
        torch.manual_seed(0)
        base = BertForSequenceClassification(BertConfig(
            vocab_size=21128, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
            intermediate_size=3072, max_position_embeddings=512, num_labels=2,
            id2label={0: "negative", 1: "positive"}, label2id={"negative": 0, "positive": 1}))
        base.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        del base
        bclf = load_classifier(tmp, threads=args.threads)
        r_base = rate(lambda t: bclf.classify(t, batch_size=args.batch), texts[: args.n_base], 1)
        bclf = None  # free the big model before the next measurement
    rows.append(("bert-base-sized (768x12, random weights)", args.n_base, r_base))

    from snownlp import SnowNLP

    r_snow = rate(lambda t: [SnowNLP(x).sentiments for x in t], texts[: args.n_snownlp], 1)
    rows.append(("SnowNLP", args.n_snownlp, r_snow))

    child = subprocess.run([sys.executable, __file__, "--rss-child", "--n", str(min(args.n, 5000)),
                            "--threads", str(args.threads)], capture_output=True, text=True, check=True)
    rss = json.loads(child.stdout.strip().splitlines()[-1])["peak_rss_mb"]
    probe = "import json, torch, bench_sentiment as b; print(json.dumps(b.peak_rss_mb()))"
    torch_rss = float(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                                     cwd=str(Path(__file__).parent)).stdout.strip())

    print(f"# sentiment throughput, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"# cpu: {cpu_name()}, torch threads {args.threads}, torch {torch.__version__}, batch {args.batch}")
    print(f"# texts: {src}; mean {sum(map(len, texts)) / len(texts):.1f} chars")
    print()
    print("| system | reviews | reviews/s | default fp32 is x faster |")
    print("|---|---:|---:|---:|")
    for name, n, r in rows:
        print(f"| {name} | {n} | {r:,.0f} | {r_default / r:.1f} |")
    print()
    print(f"peak RSS of a process that loads the default model and classifies {min(args.n, 5000)} "
          f"reviews: {rss:.0f} MB (after `import torch` alone: {torch_rss:.0f} MB)")


if __name__ == "__main__":
    main()
