"""Paraphrase similarity on honest texts: clause-set MinHash (``copied``) vs sentence embeddings of
the sentiment encoder (mean-pooled last hidden state, ``paid_head.Encoder``).

For distinct honest reviews of the evaluation domains (food_delivery + shopping/水果) it measures how
often a text has another, *different* honest text above a similarity threshold (the false-match
rate), and for reworded copies of them (``textpool.reorder``, ``light_edit``, ``spin``) how often the
copy reaches the threshold against its original (recall). Needs the shared corpus and torch.

    nice -n 10 python bench/bench_paraphrase.py [--texts 6000] [--copies 1500] [--model DIR]
"""

from __future__ import annotations

import argparse
import random
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--texts", type=int, default=6000)
    ap.add_argument("--copies", type=int, default=1500)
    ap.add_argument("--model", default="models/trustscope-sentiment-zh")
    ap.add_argument("--seed", type=int, default=5)
    args = ap.parse_args()

    import torch

    from trustscope.integrity import lofo, textpool
    from trustscope.integrity.detectors import copied
    from trustscope.integrity.detectors.duplicate import compact, jaccard_compact
    from trustscope.integrity.paid_head import Encoder

    torch.set_num_threads(1)
    rng = random.Random(args.seed)
    neg, pos = textpool.corpus_texts(domains=lofo.EVAL_DOMAINS)
    pool = sorted(set(pos) | set(neg))
    rng.shuffle(pool)
    honest = pool[: args.texts]
    base = [x for x in honest if copied.signature(x) is not None][: args.copies]
    variants = {"reorder": [textpool.reorder(x, rng) for x in base],
                "light_edit": [textpool.light_edit(x, rng) for x in base],
                "spin": [textpool.spin(x, rng, 0.5) for x in base]}
    enc = Encoder(args.model)

    def embed(xs: list[str]) -> np.ndarray:
        v = np.asarray(enc(xs), dtype=np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    t = time.perf_counter()
    eh, eb = embed(honest), embed(base)
    sims = eh @ eh.T
    np.fill_diagonal(sims, -1.0)
    best = sims.max(1)
    sigs = [copied.signature(x) for x in honest]
    idx = [i for i, s in enumerate(sigs) if s is not None]
    m = np.array([np.frombuffer(compact(sigs[i]), dtype=np.uint8) for i in idx])
    c = 1 / 256
    fm = sum(bool((((np.where(np.arange(len(idx)) == n, 0.0, (m == m[n]).mean(1)) - c) / (1 - c))
                   >= copied.MATCH).any()) for n in range(len(idx)))
    print(f"{len(honest)} distinct honest texts ({len(idx)} above the copy index's information threshold), "
          f"{time.perf_counter() - t:.0f} s")
    print(f"clause MinHash J >= {copied.MATCH}: {fm / len(idx):.2%} of indexed honest texts match another one")
    for tau in (0.9, 0.95, 0.97, 0.98, 0.99):
        print(f"embedding cosine >= {tau}: {np.mean(best >= tau):.2%} of honest texts have a distinct honest "
              f"neighbour ({np.mean(best[idx] >= tau):.2%} of the indexed ones)")
    for name, vs in variants.items():
        cos = np.sum(embed(vs) * eb, 1)
        js = np.array([jaccard_compact(copied.signature(v), compact(copied.signature(b)))
                       if copied.signature(v) is not None else 0.0 for v, b in zip(vs, base)])
        print(f"{name}: MinHash J >= {copied.MATCH} {np.mean(js >= copied.MATCH):.2%}; "
              + ", ".join(f"cosine >= {tau} {np.mean(cos >= tau):.2%}" for tau in (0.9, 0.95, 0.97, 0.98)))


if __name__ == "__main__":
    main()
