"""Accuracy and ROC AUC per domain on the random 10% test split, for several systems side by side.

Systems: model dirs (torch, length-bucketed), saved test probabilities (``{review id: P(positive)}``
JSON, e.g. ``train-base``'s ``test_probs.json``), char TF-IDF + LR trained on the whole training
part of the split and/or on the same sample a teacher was trained on, and SnowNLP. Every number
is on the same 6,476 test reviews, which nothing here tunes on.

    python bench/bench_sentiment_split.py --model shipped=models/trustscope-sentiment-zh \
        --probs teacher=~/.cache/trustscope/train/R1/test_probs.json --tfidf-sample 32000 --snownlp \
        --json out.json
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "sentiment_zh_fixture.jsonl"


def _named(value: str) -> tuple[str, Path]:
    name, _, path = value.partition("=")
    if not path:
        raise argparse.ArgumentTypeError(f"expected NAME=PATH, got {value!r}")
    return name, Path(path).expanduser()


def model_probs(model_dir: Path, texts: list[str], max_length: int) -> list[float]:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from trustscope.sentiment.inference import predict_probs

    tok = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(str(model_dir), local_files_only=True).eval()
    return predict_probs(model, tok, texts, max_length, 128)[:, 1].tolist()


def snownlp_probs(texts: list[str]) -> list[float]:
    from snownlp import SnowNLP

    return [float(SnowNLP(t).sentiments) for t in texts]


def table(systems: dict[str, list[float]], y: list[int], domains: list[str]) -> dict:
    """``{system: {domain | "all": {n, accuracy, roc_auc}}}``."""
    from trustscope.sentiment.transfer import roc_auc

    out: dict[str, dict] = {}
    for name, p in systems.items():
        rows = {}
        for dom in ["all", *sorted(set(domains))]:
            idx = [i for i, d in enumerate(domains) if dom == "all" or d == dom]
            yy, pp = [y[i] for i in idx], [p[i] for i in idx]
            rows[dom] = {"n": len(idx), "accuracy": sum(int((q > 0.5) == bool(t)) for q, t in zip(pp, yy)) / len(idx),
                         "roc_auc": roc_auc(yy, pp)}
        out[name] = rows
    return out


def markdown(res: dict) -> str:
    names = list(res)
    doms = list(next(iter(res.values())))
    lines = ["| domain | n | " + " | ".join(f"{n} acc / AUC" for n in names) + " |",
             "|---|---:|" + "---:|" * len(names)]
    for d in doms:
        cells = []
        for n in names:
            r = res[n][d]
            auc = "-" if r["roc_auc"] is None else f"{r['roc_auc']:.3f}"
            cells.append(f"{100 * r['accuracy']:.2f}% / {auc}")
        lines.append(f"| {'**all**' if d == 'all' else d} | {res[names[0]][d]['n']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=_named, action="append", default=[], help="NAME=model dir")
    ap.add_argument("--probs", type=_named, action="append", default=[], help="NAME=test_probs.json")
    ap.add_argument("--tfidf-all", action="store_true", help="TF-IDF + LR on the whole training part")
    ap.add_argument("--tfidf-sample", type=int, default=0,
                    help="TF-IDF + LR on the sample `train-base --held-out '' --train-size N` trains on")
    ap.add_argument("--snownlp", action="store_true")
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", type=Path, default=None, help="write the table here too")
    ap.add_argument("--save-probs", type=Path, default=None,
                    help="write each system's test probabilities as DIR/<name>.json (reusable with --probs)")
    args = ap.parse_args()

    import torch

    from trustscope.sentiment.baselines import tfidf_lr
    from trustscope.sentiment.data import load_reviews, random_split

    torch.set_num_threads(args.threads)
    sp = random_split(load_reviews(), seed=13)
    texts, y, doms = [r.text for r in sp.test], [r.label for r in sp.test], [r.domain for r in sp.test]
    systems: dict[str, list[float]] = {}
    for name, path in args.probs:
        saved = json.loads(path.read_text())
        saved = saved.get("random_10pct", saved)  # train-base nests them under the test's name
        systems[name] = [float(saved[r.id]) for r in sp.test]
    fixture = [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines() if line.strip()]
    fixture_hits = {}
    for name, path in args.model:
        t0 = time.time()
        systems[name] = model_probs(path, texts, args.max_length)
        print(f"{name}: {len(texts) / (time.time() - t0):.0f} texts/s", file=sys.stderr)
        fp = model_probs(path, [r["text"] for r in fixture], args.max_length)
        fixture_hits[name] = sum(int((p > 0.5) == bool(r["label"])) for p, r in zip(fp, fixture))
        print(f"{name}: finance fixture {fixture_hits[name]}/{len(fixture)} (argmax)")
    if args.tfidf_sample:
        sample = random.Random(13).sample(sp.train, min(args.tfidf_sample, len(sp.train)))
        pipe = tfidf_lr([r.text for r in sample], [r.label for r in sample])
        systems[f"TF-IDF+LR ({len(sample)})"] = pipe.predict_proba(texts)[:, 1].tolist()
    if args.tfidf_all:
        pipe = tfidf_lr([r.text for r in sp.train], [r.label for r in sp.train])
        systems[f"TF-IDF+LR ({len(sp.train)})"] = pipe.predict_proba(texts)[:, 1].tolist()
    if args.snownlp:
        systems["SnowNLP"] = snownlp_probs(texts)
    if args.save_probs:
        args.save_probs.mkdir(parents=True, exist_ok=True)
        for name, p in systems.items():
            safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
            (args.save_probs / f"{safe}.json").write_text(json.dumps({r.id: round(x, 6) for r, x in zip(sp.test, p)}))
    res = table(systems, y, doms)
    print(markdown(res))
    if args.json:
        args.json.write_text(json.dumps({"random_split": res, "fixture_hits": fixture_hits}, indent=2,
                                        ensure_ascii=False))


if __name__ == "__main__":
    main()
