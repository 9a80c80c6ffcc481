"""Sentiment throughput on this machine: every backend of the default model vs SnowNLP vs a
bert-base-sized model, plus the sentiment service's peak memory.

All BERT numbers go through the same library path (``trustscope.sentiment.load_classifier`` ->
``classify``): tokenizing, length bucketing, batching, neutral band. Rows: ONNX Runtime fp32 and
int8 (``model.onnx`` / ``model.int8.onnx``), torch fp32 and torch int8 dynamic quantisation, a
bert-base-sized model (random weights, 768 hidden, 12 layers, 12 heads, torch backend; only its
speed matters) and SnowNLP. With the shared data it also reports each variant's accuracy on the
held-out random test split. The memory figure is the peak RSS (VmHWM) of a fresh process that
builds the classifier exactly as ``services/sentiment`` does (default backend) and classifies a
few thousand reviews in service-sized micro-batches; that process asserts torch was never imported.

    python bench/bench_sentiment.py [--n 5000] [--n-base 500] [--n-snownlp 500] [--threads 2]
                                    [--teacher DIR] [--n-teacher 1000]

``--teacher`` adds the fine-tuned bge-small-zh teacher (the accurate option; ONNX when its dir has
model.onnx / model.int8.onnx, else torch) on the same texts.
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


def bench_texts(n: int, seed: int = 7) -> tuple[list[str], str, list[tuple[str, int]]]:
    """(n review texts sampled with replacement, their source, the labelled test split or [])."""
    from trustscope.sentiment.data import (
        REVIEWS_FILE,
        load_reviews,
        random_split,
        shared_data_dir,
    )

    labelled: list[tuple[str, int]] = []
    if (shared_data_dir() / REVIEWS_FILE).exists():
        labelled = [(r.text, r.label) for r in random_split(load_reviews()).test]
        texts = [t for t, _ in labelled]
        src = f"shared review test split ({len(texts)} texts)"
    else:
        texts = [json.loads(x)["text"] for x in FIXTURE.read_text(encoding="utf-8").splitlines() if x.strip()]
        src = "tests/fixtures (shared data absent)"
    rng = random.Random(seed)
    return [rng.choice(texts) for _ in range(n)], src, labelled


def accuracy(clf, labelled: list[tuple[str, int]]) -> tuple[float, float]:
    """(accuracy of argmax P(positive) > 0.5, fraction labelled neutral) on a labelled split."""
    res = clf.classify([t for t, _ in labelled], batch_size=128)
    acc = sum((r.prob_positive > 0.5) == bool(y) for r, (_, y) in zip(res, labelled)) / len(labelled)
    return acc, sum(r.label == "neutral" for r in res) / len(res)


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


def rss_child(texts_file: str) -> None:
    """Run in a fresh process: build the classifier the way services/sentiment does (default
    backend, settings from TS_*), classify the texts in service-sized micro-batches, print peak RSS."""
    from services.sentiment.stage import build
    from trustscope.settings import get_settings

    texts = json.loads(Path(texts_file).read_text(encoding="utf-8"))
    settings = get_settings()
    clf = build(settings, None).classifier
    for i in range(0, len(texts), settings.batch_size):
        clf.classify(texts[i:i + settings.batch_size])
    leaked = [m for m in ("torch", "transformers") if m in sys.modules]
    assert not leaked or clf.backend != "onnx", f"the ONNX service path imported {leaked}"
    print(json.dumps({"peak_rss_mb": peak_rss_mb(), "backend": clf.backend, "torch_imported": bool(leaked)}))


def peak_rss_mb() -> float:
    """VmHWM of this process. Not ru_maxrss: Linux carries that over from the parent across
    fork+exec, so a child of a big benchmark process would report the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _row(rows, name, clf, texts, args, labelled, repeat=None):
    r = rate(lambda t: clf.classify(t, batch_size=args.batch), texts, repeat or args.repeat)
    acc = accuracy(clf, labelled) if labelled and not args.no_accuracy else None
    rows.append((name, len(texts), r, acc))
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5000, help="reviews for the default model")
    ap.add_argument("--n-base", type=int, default=500, help="reviews for the bert-base-sized model")
    ap.add_argument("--n-snownlp", type=int, default=500, help="reviews for SnowNLP")
    ap.add_argument("--n-rss", type=int, default=5000, help="reviews the service-like process classifies")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=2, help="timed repetitions (best is kept)")
    ap.add_argument("--no-accuracy", action="store_true", help="skip test-split accuracy per variant")
    ap.add_argument("--teacher", type=Path, help="also time this (teacher) checkpoint dir")
    ap.add_argument("--n-teacher", type=int, default=1000, help="reviews for the teacher")
    ap.add_argument("--rss-child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.rss_child:
        rss_child(args.rss_child)
        return

    import os

    import onnxruntime

    from trustscope.sentiment import load_classifier
    from trustscope.sentiment.onnx_backend import ONNX_INT8_FILE
    from trustscope.settings import get_settings

    model_dir = Path(get_settings().sentiment_model_dir)
    texts, src, labelled = bench_texts(args.n)
    rows: list = []
    t = args.threads
    r_onnx = _row(rows, "ONNX Runtime fp32 (default)", load_classifier(threads=t, backend="onnx",
                                                                      quantize=False), texts, args, labelled)
    if (model_dir / ONNX_INT8_FILE).exists():
        _row(rows, "ONNX Runtime int8 (model.int8.onnx)",
             load_classifier(threads=t, backend="onnx", quantize=True), texts, args, labelled)
    _row(rows, "torch fp32", load_classifier(threads=t, backend="torch", quantize=False), texts, args, labelled)
    _row(rows, "torch int8 dynamic", load_classifier(threads=t, backend="torch", quantize=True),
         texts, args, labelled)

    if args.teacher:
        tdir = str(args.teacher)
        variants = [("onnx", False), ("onnx", True)] if (args.teacher / "model.onnx").exists() else [("torch", False)]
        for backend, q in variants:
            if q and not (args.teacher / ONNX_INT8_FILE).exists():
                continue
            tclf = load_classifier(tdir, threads=t, backend=backend, quantize=q)
            _row(rows, f"teacher bge-small-zh fine-tuned ({backend}{' int8' if q else ' fp32'})", tclf,
                 texts[: args.n_teacher], args, labelled, repeat=1)
            tclf = None

    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    with tempfile.TemporaryDirectory() as tmp:
        tok = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
        torch.manual_seed(0)
        base = BertForSequenceClassification(BertConfig(
            vocab_size=21128, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
            intermediate_size=3072, max_position_embeddings=512, num_labels=2,
            id2label={0: "negative", 1: "positive"}, label2id={"negative": 0, "positive": 1}))
        base.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        del base
        bclf = load_classifier(tmp, threads=t, backend="torch", quantize=False)
        r = rate(lambda x: bclf.classify(x, batch_size=args.batch), texts[: args.n_base], 1)
        rows.append(("bert-base-sized (768x12, random weights, torch fp32)", args.n_base, r, None))
        bclf = None  # free the big model before the next measurement

    from snownlp import SnowNLP

    snow = texts[: args.n_snownlp]
    r = rate(lambda x: [SnowNLP(y).sentiments for y in x], snow, 1)
    rows.append(("SnowNLP", len(snow), r, None))

    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as f:
        json.dump(texts[: args.n_rss], f, ensure_ascii=False)
    env = {**os.environ, "TS_TORCH_THREADS": str(t)}
    try:
        child = subprocess.run([sys.executable, __file__, "--rss-child", f.name], capture_output=True,
                               text=True, check=True, env=env, cwd=str(REPO))
    finally:
        Path(f.name).unlink()
    svc = json.loads(child.stdout.strip().splitlines()[-1])
    probe = "import json, torch, bench_sentiment as b; print(json.dumps(b.peak_rss_mb()))"
    torch_rss = float(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                                     cwd=str(Path(__file__).parent)).stdout.strip())

    print(f"# sentiment throughput, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"# cpu: {cpu_name()} ({os.cpu_count()} cores visible), {t} threads, batch {args.batch}, "
          f"onnxruntime {onnxruntime.__version__}, torch {torch.__version__}")
    print(f"# texts: {src}; mean {sum(map(len, texts)) / len(texts):.1f} chars")
    print()
    print("| system | reviews | reviews/s | ONNX fp32 is x faster | test-split accuracy (neutral %) |")
    print("|---|---:|---:|---:|---:|")
    for name, n, r, acc in rows:
        a = f"{acc[0]:.2%} ({acc[1]:.1%})" if acc else "-"
        print(f"| {name} | {n} | {r:,.0f} | {r_onnx / r:.1f} | {a} |")
    print()
    print(f"peak RSS (VmHWM) of a service-like process (services.sentiment.stage.build, backend "
          f"{svc['backend']}, torch imported: {svc['torch_imported']}) classifying {min(args.n_rss, len(texts))} "
          f"reviews: {svc['peak_rss_mb']:.0f} MB (a process after `import torch` alone: {torch_rss:.0f} MB)")


if __name__ == "__main__":
    main()
