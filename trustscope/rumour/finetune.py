"""A fine-tuned text head for the rumour model: bge-small-zh fine-tuned on the original posts, its
logit as one more input of the post-only band (needs torch + transformers, the ``dev`` extra).

Why cross-fitting: the stackers must learn from logits of posts the fine-tune did not train on
(as every other view's, see ``training.fit_stack``). Fine-tuning once per inner fold would cost 25
fine-tunes for a 5-fold CV, so each outer training part is split into ``CROSS_FOLDS`` parts by
event; one fine-tune per part-left-out gives out-of-fold logits for the training rows, and the
outer test events get the mean of those fine-tunes' logits. Every fine-tune sees only its own
training events (never an outer test event), and each outer fold's logits are written to a
checkpoint file before the next fold starts, so an interrupted run resumes where it stopped.

Run: ``python -m trustscope.rumour.finetune cv [--data ...] [--out DIR]``; the fold files then
feed ``evaluate_post_only(..., finetuned=...)`` (``trustscope rumour evaluate --post-only
--finetuned DIR``).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

CROSS_FOLDS = 3


@dataclass(frozen=True, slots=True)
class RumourFinetuneConfig:
    """Set a priori (not tuned on the CV): two passes, a small learning rate for a 4-layer model,
    frozen token embeddings (the sentiment fine-tunes' measured choice for unseen wording)."""

    epochs: float = 2.0
    batch_size: int = 16
    lr: float = 1e-4
    warmup_frac: float = 0.1
    max_length: int = 128
    freeze_embeddings: bool = True
    seed: int = 13


def base_encoder_dir() -> Path:
    from trustscope.sentiment.basemodel import base_model_dir

    return base_model_dir()


def _reviews(texts: list[str], labels: np.ndarray):
    from trustscope.sentiment.data import Review

    return [Review(str(i), "rumour", int(y), t) for i, (t, y) in enumerate(zip(texts, labels))]


def finetune_posts(texts: list[str], labels: np.ndarray, cfg: RumourFinetuneConfig,
                   init_dir: Path | None = None, log=print):
    """A BertForSequenceClassification fine-tuned on (post, rumour?) pairs; returns (model, tokenizer)."""
    from transformers import AutoTokenizer

    from trustscope.sentiment.finetune import FinetuneConfig, finetune

    init = init_dir or base_encoder_dir()
    tok = AutoTokenizer.from_pretrained(str(init), local_files_only=True)
    fc = FinetuneConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, warmup_frac=cfg.warmup_frac,
                        max_length=cfg.max_length, eval_every=10**9, patience=10**9, seed=cfg.seed,
                        freeze_embeddings=cfg.freeze_embeddings)
    # no validation split: the last step is kept (fixed epochs, chosen a priori)
    model, _ = finetune(init, tok, _reviews(texts, labels), [], None, fc, log=log,
                        score_fn=lambda m: (1.0, {}))
    return model, tok


def post_logits(model, tok, texts: list[str], max_length: int = 128) -> np.ndarray:
    """log P(rumour) - log P(not) per text (label 1 = rumour)."""
    from trustscope.sentiment.inference import predict_probs

    p = predict_probs(model, tok, texts, max_length, 64).numpy().astype(np.float64)
    p = np.clip(p, 1e-7, 1.0)
    return np.log(p[:, 1]) - np.log(p[:, 0])


def cross_fit(texts: list[str], y: np.ndarray, train: np.ndarray, test: np.ndarray,
              cfg: RumourFinetuneConfig, folds: int = CROSS_FOLDS, init_dir: Path | None = None,
              log=print) -> tuple[np.ndarray, np.ndarray]:
    """(out-of-fold logits for ``train``, mean logits for ``test``) from ``folds`` fine-tunes."""
    from sklearn.model_selection import StratifiedKFold

    oof = np.zeros(len(train))
    test_sum = np.zeros(len(test))
    for k, (a, b) in enumerate(StratifiedKFold(folds, shuffle=True, random_state=cfg.seed).split(train, y[train])):
        t0 = time.monotonic()
        model, tok = finetune_posts([texts[i] for i in train[a]], y[train[a]], cfg, init_dir, log=lambda *_: None)
        oof[b] = post_logits(model, tok, [texts[i] for i in train[b]], cfg.max_length)
        test_sum += post_logits(model, tok, [texts[i] for i in test], cfg.max_length)
        log(f"  cross-fit {k + 1}/{folds}: {len(a)} posts, {time.monotonic() - t0:.0f} s")
        del model
    return oof, test_sum / folds


def fold_file(out: Path, k: int) -> Path:
    return out / f"fold{k}.npz"


def load_fold(out: Path, k: int) -> dict[str, np.ndarray] | None:
    path = fold_file(out, k)
    if not path.exists():
        return None
    with np.load(path) as z:
        return {n: z[n] for n in z.files}


def run_cv(data: Path, out: Path, folds: int = 5, seed: int = 0, cfg: RumourFinetuneConfig | None = None,
           time_split: bool = True, log=print) -> None:
    """Cross-fitted fine-tune logits for the outer folds of ``evaluate_post_only`` (same grouped
    split, same seed) and its time split (key ``time``), one checkpoint file per fold."""
    from sklearn.model_selection import StratifiedGroupKFold

    from trustscope.rumour.training import near_duplicate_groups, read_events, time_split_indices

    cfg = cfg or RumourFinetuneConfig()
    events, y = read_events(data, with_reposts=False)
    texts = [e.text for e in events]
    groups = near_duplicate_groups(events)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps({**asdict(cfg), "cross_folds": CROSS_FOLDS, "outer_folds": folds,
                                                 "seed": seed, "data": str(data), "n": len(y)}, indent=1))
    splits = list(StratifiedGroupKFold(folds, shuffle=True, random_state=seed).split(np.zeros(len(y)), y, groups))
    if time_split:
        splits.append(time_split_indices(events, groups))
    for k, (tr, te) in enumerate(splits):
        if fold_file(out, k).exists():
            log(f"fold {k}: checkpoint exists, skipped")
            continue
        t0 = time.monotonic()
        oof, test = cross_fit(texts, y, tr, te, cfg, log=log)
        tmp = out / f"fold{k}.tmp.npz"
        np.savez(tmp, train=tr, test=te, train_logit=oof, test_logit=test)
        tmp.replace(fold_file(out, k))
        acc = float(((test > 0).astype(int) == y[te]).mean())
        log(f"fold {k} done in {time.monotonic() - t0:.0f} s: fine-tune alone on the test part acc {acc:.4f}")


def run_pilot(data: Path, out: Path, fold: int = 0, seed: int = 0, cfg: RumourFinetuneConfig | None = None,
              log=print) -> dict:
    """One fine-tune on outer fold ``fold``'s training part (no cross-fit), scored alone on its test
    part: what a fine-tune is worth against the frozen views before paying for the cross-fitted CV."""
    from sklearn.model_selection import StratifiedGroupKFold

    from trustscope.rumour.training import near_duplicate_groups, read_events

    cfg = cfg or RumourFinetuneConfig()
    events, y = read_events(data, with_reposts=False)
    texts = [e.text for e in events]
    groups = near_duplicate_groups(events)
    tr, te = list(StratifiedGroupKFold(5, shuffle=True, random_state=seed).split(np.zeros(len(y)), y, groups))[fold]
    t0 = time.monotonic()
    model, tok = finetune_posts([texts[i] for i in tr], y[tr], cfg, log=log)
    train_s = time.monotonic() - t0
    logit = post_logits(model, tok, [texts[i] for i in te], cfg.max_length)
    res = {"fold": fold, "train": int(len(tr)), "test": int(len(te)), "train_s": round(train_s, 1),
           "texts_per_s": round(len(tr) * cfg.epochs / train_s, 2),
           "accuracy_alone": float(((logit > 0).astype(int) == y[te]).mean()), **asdict(cfg)}
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / f"pilot{fold}.npz", test=te, test_logit=logit)
    (out / f"pilot{fold}.json").write_text(json.dumps(res, indent=1))
    log(json.dumps(res))
    return res


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    cv = sub.add_parser("cv", help="cross-fitted fine-tune logits for the grouped CV folds and the time split")
    cv.add_argument("--data", type=Path, default=Path("../shared/data/rumour_ced_train.jsonl.gz"))
    cv.add_argument("--out", type=Path, default=Path.home() / ".cache/trustscope/rumour/ft-cv")
    cv.add_argument("--threads", type=int, default=1)
    pi = sub.add_parser("pilot", help="one fine-tune on an outer fold's training part, scored alone")
    pi.add_argument("--data", type=Path, default=Path("../shared/data/rumour_ced_train.jsonl.gz"))
    pi.add_argument("--out", type=Path, default=Path.home() / ".cache/trustscope/rumour/ft-pilot")
    pi.add_argument("--fold", type=int, default=0)
    pi.add_argument("--epochs", type=float, default=1.0)
    pi.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    import torch

    torch.set_num_threads(a.threads)
    log = lambda m: print(m, flush=True)  # noqa: E731
    if a.cmd == "pilot":
        run_pilot(a.data, a.out, a.fold, cfg=RumourFinetuneConfig(epochs=a.epochs), log=log)
    else:
        run_cv(a.data, a.out, log=log)


if __name__ == "__main__":
    main()
