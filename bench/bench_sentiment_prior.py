"""Per-source label-prior adjustment where the prior did not shift: each domain of the random 10% test
split treated as its own source (EM over its texts), accuracy before / after, for a model dir.

    python bench/bench_sentiment_prior.py [--model models/trustscope-sentiment-zh] [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="models/trustscope-sentiment-zh")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max-length", type=int, default=128)
    args = ap.parse_args()

    import numpy as np
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from trustscope.sentiment.data import load_reviews, random_split
    from trustscope.sentiment.inference import predict_probs
    from trustscope.sentiment.prior_store import load_train_prior
    from trustscope.sentiment.priors import adjust_posteriors, em_prior

    torch.set_num_threads(args.threads)
    sp = random_split(load_reviews(), seed=13)
    prior = load_train_prior(args.model) or sum(r.label for r in sp.train) / len(sp.train)
    tok = AutoTokenizer.from_pretrained(args.model, local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(args.model, local_files_only=True).eval()
    p = predict_probs(model, tok, [r.text for r in sp.test], args.max_length, 128)[:, 1].numpy()
    y = np.array([r.label for r in sp.test])
    d = np.array([r.domain for r in sp.test])
    print(f"| domain | n | acc | acc, prior-adjusted | true / estimated positive share |  (training prior {prior:.3f})")
    print("|---|---:|---:|---:|---:|")
    hit0 = hit1 = 0
    for dom in sorted(set(d)):
        m = d == dom
        est = em_prior(p[m], prior)
        adj = adjust_posteriors(p[m], prior, est)
        a0, a1 = int(((p[m] > 0.5) == y[m]).sum()), int(((adj > 0.5) == y[m]).sum())
        hit0, hit1 = hit0 + a0, hit1 + a1
        print(f"| {dom} | {m.sum()} | {a0 / m.sum():.2%} | {a1 / m.sum():.2%} | {y[m].mean():.3f} / {est:.3f} |")
    print(f"| **all** | {len(y)} | {hit0 / len(y):.2%} | {hit1 / len(y):.2%} | |")


if __name__ == "__main__":
    main()
