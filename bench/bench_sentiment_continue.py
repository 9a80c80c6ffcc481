"""Continue fine-tuning a teacher on the training reviews it has not seen (held-out A1, or random R1).

Why: A1 saw 12,000 of the ~42,000 reviews of the eight training domains (CPU budget). This run
trains it one pass over the rest (never its 1,000 validation reviews, never a held-out-domain
label), with a wall budget that anneals the learning rate, and scores every ``--eval-every``
steps on fixed probes of the held-out domains that are disjoint from the 3,000-review test
samples the model cards report (so the test reviews choose nothing). Every evaluation writes
the latest weights, and the best by mean prior-adjusted probe accuracy, to disk.

    nice -n 10 python bench/bench_sentiment_continue.py --init ~/.cache/trustscope/train/A1/model \
        --work-dir ~/.cache/trustscope/train/C1 --max-minutes 80 --threads 1

``--split random``: the random-split teacher R1 (``train-base --held-out '' --train-size 32000``,
best at step 600, so it saw 19,200 of the 55,046 training reviews). Its batch order is replayed to
find those; the run trains once over the ~35,800 it never saw, then further passes over all, and
chooses checkpoints by the split's 3,238 validation reviews (never its test part). Every
evaluation writes ``last``, ``best`` and the validation probabilities (val_probs.npz) to disk.

    nice -n 5 python bench/bench_sentiment_continue.py --split random \
        --init ~/.cache/trustscope/train/R1/model --work-dir ~/.cache/trustscope/train/R2 \
        --lr 3e-5 --max-minutes 80 --threads 2 --eval-every 250

R3 continues R2 (``--init .../R2/best --after-steps 891``): the ~7,300 reviews neither R1 nor R2
saw first, then passes over all, at 128 tokens (the served ``TS_SENTIMENT_MAX_LENGTH``).
"""

from __future__ import annotations

import argparse
import json
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trustscope.sentiment.data import Review, load_reviews
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


@dataclass(frozen=True)
class DomainSets:
    """One held-out domain's texts for adapting to it: labels of ``pool`` are never to be read."""

    val: list[Review]  # the 1,000 validation reviews of the training domains
    test: list[Review]  # the 3,000-review test sample (chooses nothing)
    probes: list[Review]  # the 400 probes (choose the step)
    pool: list[Review]  # the domain's other reviews, used unlabelled
    source: list[Review]  # every labelled review of the other domains but the validation ones


def domain_sets(reviews: list[Review], domain: str) -> DomainSets:
    """The splits the self-training and adaptation benches read for ``domain``."""
    _, val, _, tests, probes = held_out_split(reviews)
    test, prb = tests[domain], probes[domain]
    hidden = {r.id for r in test} | {r.id for r in prb}
    val_ids = {r.id for r in val}
    return DomainSets(val=val, test=test, probes=prb,
                      pool=[r for r in reviews if r.domain == domain and r.id not in hidden],
                      source=[r for r in reviews if r.domain != domain and r.id not in val_ids])


@dataclass(frozen=True)
class Teacher:
    """A held-out teacher as the adaptation benches start from it."""

    tokenizer: object
    model: object  # BertForSequenceClassification, fp32, eval mode
    train_prior: float  # the positive share it trained on (prior.json)


def load_teacher(path: Path) -> Teacher:
    import torch
    from transformers import AutoTokenizer, BertForSequenceClassification

    return Teacher(tokenizer=AutoTokenizer.from_pretrained(str(path), local_files_only=True),
                   model=BertForSequenceClassification.from_pretrained(str(path), local_files_only=True,
                                                                       dtype=torch.float32),
                   train_prior=json.loads((path / PRIOR_FILE).read_text())["train_prior"])


def positive_probs(model, tok, reviews: list[Review], max_length: int) -> np.ndarray:
    """P(positive) per review, the way every held-out bench scores a checkpoint (batches of 128)."""
    return predict_probs(model, tok, [r.text for r in reviews], max_length, 128)[:, 1].numpy()


def save_checkpoint(model, tok, out: Path, train_prior: float | None = None) -> None:
    """Weights and tokenizer in ``out``, and the prior the prior adjustment starts from when given."""
    model.save_pretrained(str(out))
    tok.save_pretrained(str(out))
    if train_prior is not None:
        (out / PRIOR_FILE).write_text(json.dumps({"train_prior": train_prior}) + "\n")


def work_log(work: Path):
    """A logger that prints each line with its time and appends it to ``work/log.txt`` (made here)."""
    work.mkdir(parents=True, exist_ok=True)
    logf = (work / "log.txt").open("a", encoding="utf-8")

    def log(msg: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {msg}"
        print(line, flush=True)
        logf.write(line + "\n")
        logf.flush()

    return log


def r1_seen(train, tok, sample: int = 32000, seed: int = 13, batch_size: int = 32, steps: int = 600):
    """The random-split training reviews R1 trained on: its first ``steps`` batches, replayed."""
    from trustscope.sentiment.finetune import _bucketed_batches
    from trustscope.sentiment.textprep import encode_batch

    drawn = random.Random(seed).sample(train, sample)
    lengths = [len(x) for x in encode_batch(tok, [r.text for r in drawn], 64)]
    batches = _bucketed_batches(lengths, batch_size, random.Random(seed))[:steps]
    return {drawn[i].id for b in batches for i in b}


def continued_seen(unseen, tok, steps: int, seed: int = 13, batch_size: int = 32):
    """The reviews an earlier continuation (R2) trained on: its first ``steps`` batches of the unseen pass.

    ``finetune(first_pass=...)`` draws that pass's batch order first from ``Random(seed)`` (no linear
    probe), over the lengths encoded at 64 tokens, so it replays exactly.
    """
    from trustscope.sentiment.finetune import _bucketed_batches
    from trustscope.sentiment.textprep import encode_batch

    lengths = [len(x) for x in encode_batch(tok, [r.text for r in unseen], 64)]
    batches = _bucketed_batches(lengths, batch_size, random.Random(seed))[:steps]
    return {unseen[i].id for b in batches for i in b}


def random_run(args, tok, log) -> None:
    """Continue R1: a pass over the random split's unseen training reviews, then passes over all."""
    from trustscope.sentiment.data import random_split

    sp = random_split(load_reviews(), seed=13)
    seen_ids = r1_seen(sp.train, tok)
    unseen = [r for r in sp.train if r.id not in seen_ids]
    if args.after_steps:  # the init is R1 continued for that many steps of this same order (R2)
        seen_ids |= continued_seen(unseen, tok, args.after_steps)
        unseen = [r for r in sp.train if r.id not in seen_ids]
    if args.all_seen:  # the init has seen every training review (R4 continues R3): passes over all only
        unseen = []
    seen = [r for r in sp.train if r.id in seen_ids or args.all_seen]
    prior = sum(r.label for r in sp.train) / len(sp.train)
    work = Path(args.work_dir)
    yv = np.array([r.label for r in sp.val])
    best = {"score": -1.0}
    evals = {"n": 0}

    def score_fn(model):
        p = positive_probs(model, tok, sp.val, args.max_length)
        s = score_probs(yv.tolist(), p.tolist(), prior)
        details = {k: round(s[k], 4) for k in ("accuracy", "accuracy_prior_adjusted", "roc_auc")}
        evals["n"] += 1
        np.savez(work / f"val_probs_{evals['n']:02d}.npz", p=p)
        for name in ["last"] + (["best"] if s["accuracy"] > best["score"] else []):
            save_checkpoint(model, tok, work / name, round(prior, 6))
            np.savez(work / name / "val_probs.npz", p=p)
        best["score"] = max(best["score"], s["accuracy"])
        return s["accuracy"], details

    cfg = FinetuneConfig(epochs=args.epochs, lr=args.lr, max_length=args.max_length, eval_every=args.eval_every,
                         patience=100, warmup_frac=0.05, max_minutes=args.max_minutes)
    log(f"init {args.init} random split: train {len(sp.train)} (seen {len(seen)}, unseen {len(unseen)}) "
        f"max length {args.max_length} after {args.after_steps} continued steps "
        f"val {len(sp.val)} prior {prior:.4f} lr {args.lr} budget {args.max_minutes} min")
    _, info = finetune(args.init, tok, unseen + seen, [], None, cfg, "cpu", log, score_fn=score_fn,
                       first_pass=len(unseen))
    (work / "finetune.json").write_text(json.dumps(info, indent=1, ensure_ascii=False))
    log(f"done best step {info['best_step']} val acc {info['best_val_accuracy']:.4f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--init", required=True)
    ap.add_argument("--work-dir", required=True)
    ap.add_argument("--lr", type=float, default=3e-5)
    ap.add_argument("--max-minutes", type=float, default=80)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--replay", type=int, default=0, help="also re-use this many of A1's 12k")
    ap.add_argument("--split", choices=["held-out", "random"], default="held-out")
    ap.add_argument("--epochs", type=float, default=2.0, help="random: passes over all after the unseen pass")
    ap.add_argument("--after-steps", type=int, default=0,
                    help="random: --init already continued R1 this many steps of this order (R2: 891)")
    ap.add_argument("--all-seen", action="store_true",
                    help="random: the init has seen every training review (no unseen pass)")
    ap.add_argument("--max-length", type=int, default=64, help="tokens per text, training and scoring")
    ap.add_argument("--with-domain", default="",
                    help="held-out: also train on this held-out domain's labelled reviews (a per-domain "
                         "teacher on every domain but the tested one); probes of the other domain only")
    ap.add_argument("--average-from", type=float, default=None,
                    help="held-out: also keep a running mean of the weights from this training progress on "
                         "(tail / SWAD-style averaging), scored on the probes at each evaluation, saved as avg/ "
                         "(the latest) and avg_best/ (the best by the probes)")
    ap.add_argument("--label-smoothing", type=float, default=0.0,
                    help="held-out: cross-entropy against (1 - e) one-hot + e uniform targets")
    ap.add_argument("--rdrop-alpha", type=float, default=0.0,
                    help="held-out: R-Drop, two dropout passes per batch plus this weight times their symmetric KL")
    args = ap.parse_args()
    import torch
    from transformers import AutoTokenizer

    torch.set_num_threads(args.threads)
    work = Path(args.work_dir)
    log = work_log(work)

    if args.split == "random":
        random_run(args, AutoTokenizer.from_pretrained(args.init, local_files_only=True), log)
        return
    reviews = load_reviews()
    seen, val, unseen, tests, probes = held_out_split(reviews)
    train = unseen + seen[:args.replay]
    prior = json.loads((Path(args.init) / PRIOR_FILE).read_text())["train_prior"]
    if args.with_domain:  # the other held-out domain's labels join: the data TF-IDF "all other" has
        if args.with_domain not in HELD_OUT:
            raise SystemExit(f"--with-domain must be one of {HELD_OUT}")
        train = train + [r for r in reviews if r.domain == args.with_domain]
        random.Random(13).shuffle(train)
        probes = {d: rs for d, rs in probes.items() if d != args.with_domain}
        prior = round(sum(r.label for r in train) / len(train), 6)  # what this pass teaches
    tok = AutoTokenizer.from_pretrained(args.init, local_files_only=True)
    cfg = FinetuneConfig(epochs=1.0, lr=args.lr, max_length=args.max_length, eval_every=args.eval_every,
                         patience=100, warmup_frac=0.05, max_minutes=args.max_minutes,
                         average_from=args.average_from, label_smoothing=args.label_smoothing,
                         rdrop_alpha=args.rdrop_alpha)
    records = {"best": -1.0, "avg_best": -1.0}

    def save_scored(model, latest: str, best_name: str, mean: float, latest_prior: float | None) -> None:
        """``latest`` at every evaluation; ``best_name`` when the probes' mean beats its own record."""
        save_checkpoint(model, tok, work / latest, latest_prior)
        if mean > records[best_name]:
            records[best_name] = mean
            save_checkpoint(model, tok, work / best_name, prior)

    def probe_scores(model):
        details = {}
        for d, rs in probes.items():
            p = positive_probs(model, tok, rs, args.max_length).tolist()
            s = score_probs([r.label for r in rs], p, prior)
            details[d] = {k: round(s[k], 4) for k in ("accuracy", "accuracy_prior_adjusted", "roc_auc")}
        mean = sum(v["accuracy_prior_adjusted"] for v in details.values()) / len(details)
        return mean, details

    def average_score_fn(averaged):
        mean, details = probe_scores(averaged)
        save_scored(averaged, "avg", "avg_best", mean, prior)
        return {"score": round(mean, 4), **details}

    def score_fn(model):
        mean, details = probe_scores(model)
        save_scored(model, "last", "best", mean, None)
        return mean, details

    log(f"init {args.init} train {len(train)} (unseen {len(unseen)}) lr {args.lr} "
        f"budget {args.max_minutes} min label smoothing {args.label_smoothing} r-drop {args.rdrop_alpha} "
        f"probes {[len(v) for v in probes.values()]}")
    _, info = finetune(args.init, tok, train, [], None, cfg, "cpu", log, score_fn=score_fn,
                       average_score_fn=average_score_fn if args.average_from is not None else None)
    (work / "finetune.json").write_text(json.dumps(info, indent=1, ensure_ascii=False))
    log(f"done best step {info['best_step']} score {info['best_val_accuracy']:.4f}")


if __name__ == "__main__":
    main()
