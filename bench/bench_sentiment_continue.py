"""Continue fine-tuning the held-out teacher (A1) on the other-domain reviews it has not seen.

Why: A1 saw 12,000 of the ~42,000 reviews of the eight training domains (CPU budget). This run
trains it one pass over the rest (never its 1,000 validation reviews, never a held-out-domain
label), with a wall budget that anneals the learning rate, and scores every ``--eval-every``
steps on fixed probes of the held-out domains that are disjoint from the 3,000-review test
samples the model cards report (so the test reviews choose nothing). Every evaluation writes
the latest weights, and the best by mean prior-adjusted probe accuracy, to disk.

    nice -n 10 python bench/bench_sentiment_continue.py --init ~/.cache/trustscope/train/A1/model \
        --work-dir ~/.cache/trustscope/train/C1 --max-minutes 80 --threads 1
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

from trustscope.sentiment.data import load_reviews
from trustscope.sentiment.finetune import FinetuneConfig, finetune
from trustscope.sentiment.inference import predict_probs
from trustscope.sentiment.prior_store import PRIOR_FILE
from trustscope.sentiment.transfer import HELD_OUT, score_probs


def held_out_split(reviews, seed: int = 13, test_size: int = 3000, probe_size: int = 400):
    """(seen-by-A1 train, A1 val, unseen train, tests, probes): the splits transfer.run draws."""
    rest = [r for r in reviews if r.domain not in HELD_OUT]
    random.Random(seed).shuffle(rest)
    by_dom = {d: [r for r in reviews if r.domain == d] for d in HELD_OUT}
    test_rng = random.Random(99)
    tests = {d: test_rng.sample(t, test_size) for d, t in by_dom.items()}
    probes = {}
    for d, t in by_dom.items():
        ids = {r.id for r in tests[d]}
        probes[d] = random.Random(7).sample([r for r in t if r.id not in ids], probe_size)
    return rest[:12000], rest[12000:13000], rest[13000:], tests, probes


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--init", required=True)
    ap.add_argument("--work-dir", required=True)
    ap.add_argument("--lr", type=float, default=3e-5)
    ap.add_argument("--max-minutes", type=float, default=80)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--replay", type=int, default=0, help="also re-use this many of A1's 12k")
    args = ap.parse_args()
    import torch
    from transformers import AutoTokenizer

    torch.set_num_threads(args.threads)
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    logf = (work / "log.txt").open("a", encoding="utf-8")

    def log(msg: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {msg}"
        print(line, flush=True)
        logf.write(line + "\n")
        logf.flush()

    seen, val, unseen, tests, probes = held_out_split(load_reviews())
    train = unseen + seen[:args.replay]
    prior = json.loads((Path(args.init) / PRIOR_FILE).read_text())["train_prior"]
    tok = AutoTokenizer.from_pretrained(args.init, local_files_only=True)
    cfg = FinetuneConfig(epochs=1.0, lr=args.lr, max_length=64, eval_every=args.eval_every,
                         patience=100, warmup_frac=0.05, max_minutes=args.max_minutes)
    best = {"score": -1.0}

    def score_fn(model):
        details = {}
        for d, rs in probes.items():
            p = predict_probs(model, tok, [r.text for r in rs], 64, 128)[:, 1].tolist()
            s = score_probs([r.label for r in rs], p, prior)
            details[d] = {k: round(s[k], 4) for k in ("accuracy", "accuracy_prior_adjusted", "roc_auc")}
        mean = sum(v["accuracy_prior_adjusted"] for v in details.values()) / len(details)
        model.save_pretrained(str(work / "last"))
        tok.save_pretrained(str(work / "last"))
        if mean > best["score"]:
            best["score"] = mean
            model.save_pretrained(str(work / "best"))
            tok.save_pretrained(str(work / "best"))
            (work / "best" / PRIOR_FILE).write_text(json.dumps({"train_prior": prior}) + "\n")
        return mean, details

    log(f"init {args.init} train {len(train)} (unseen {len(unseen)}) lr {args.lr} "
        f"budget {args.max_minutes} min probes {[len(v) for v in probes.values()]}")
    _, info = finetune(args.init, tok, train, [], None, cfg, "cpu", log, score_fn=score_fn)
    (work / "finetune.json").write_text(json.dumps(info, indent=1, ensure_ascii=False))
    log(f"done best step {info['best_step']} score {info['best_val_accuracy']:.4f}")


if __name__ == "__main__":
    main()
