"""Self-training the held-out teacher itself on a new domain's unlabelled reviews.

Why: the third session's self-training refitted only the TF-IDF member on pseudo-labels, and a
linear head on the frozen pooled embedding did not help; the encoder never adapted to the new
domain. Here the teacher's own weights train on the new domain's texts, labelled by the stack of
teacher + TF-IDF (every domain but the tested one) after the EM prior adjustment, mixed with as
many replayed labelled source reviews so it keeps what it knew (as in noisy-student / UDA-style
self-training; no target label is read to train or to choose).

Texts: the domain's reviews minus the 3,000-review test sample and the 400 probes are the
unlabelled training pool. The probes (labelled, disjoint from the test sample) choose the step;
the test sample chooses nothing and is scored once at the end, beside the teacher alone.

    python bench/bench_sentiment_selftrain.py --teacher ~/.cache/trustscope/train/F1/best \\
        --domain shopping/水果 --work-dir ~/.cache/trustscope/train/S1
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_sentiment_continue import domain_sets, load_teacher, positive_probs, save_checkpoint, work_log  # noqa: E402
from bench_sentiment_ensemble import score as scores  # noqa: E402

from trustscope.sentiment.baselines import tfidf_lr  # noqa: E402
from trustscope.sentiment.data import Review, load_reviews  # noqa: E402
from trustscope.sentiment.ensemble import LogitStacker, PseudoLabels, logit, pseudo_labels  # noqa: E402
from trustscope.sentiment.priors import adjust_posteriors, em_prior  # noqa: E402
from trustscope.sentiment.transfer import HELD_OUT  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--teacher", type=Path, required=True, help="a held-out teacher dir (safetensors)")
    ap.add_argument("--domain", required=True, choices=HELD_OUT)
    ap.add_argument("--work-dir", type=Path, required=True)
    ap.add_argument("--conf", type=float, default=0.9, help="pseudo-label confidence")
    ap.add_argument("--replay", type=float, default=1.0, help="labelled source reviews per pseudo-label")
    ap.add_argument("--lr", type=float, default=2e-5)
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--max-minutes", type=float, default=30)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--balance", action="store_true",
                    help="hold the pseudo-labels' positive share at the pool's EM prior estimate")
    ap.add_argument("--tfidf-rounds", type=int, default=0,
                    help="rounds of TF-IDF self-training before the pseudo-labels are drawn (0: the plain stack)")
    args = ap.parse_args()
    import torch
    from transformers import BertForSequenceClassification

    from trustscope.sentiment.finetune import FinetuneConfig, finetune

    torch.set_num_threads(args.threads)
    work = args.work_dir.expanduser()
    log = work_log(work)

    dom = args.domain
    split = domain_sets(load_reviews(), dom)
    val, test, prb, pool, source = split.val, split.test, split.probes, split.pool, split.source  # pool unlabelled
    start = load_teacher(args.teacher)
    tok, teacher, t_prior = start.tokenizer, start.model, start.train_prior

    def probs(model, rs: list[Review]) -> np.ndarray:
        return positive_probs(model, tok, rs, args.max_length)

    t0 = time.time()
    pv, pp, pr, pt = (probs(teacher, rs) for rs in (val, pool, prb, test))
    log(f"teacher scored val/pool/probes/test ({len(val)}/{len(pool)}/{len(prb)}/{len(test)}) in {time.time() - t0:.0f}s")
    yv = np.array([r.label for r in val])
    vprior = float(yv.mean())
    sets = {"val": val, "pool": pool, "probes": prb, "test": test}
    texts = {k: [r.text for r in rs] for k, rs in sets.items()}
    src_texts, src_labels = [r.text for r in source], [r.label for r in source]
    pseudo_idx, pseudo_lab = [], []
    for rnd in range(args.tfidf_rounds + 1):  # round 0: the plain stack; then TF-IDF self-trained, restacked
        t0 = time.time()
        pipe = tfidf_lr(src_texts + [pool[i].text for i in pseudo_idx], src_labels + pseudo_lab)
        z = {k: pipe.decision_function(v) for k, v in texts.items()}
        st = LogitStacker().fit(np.c_[logit(pv), z["val"]], yv)
        q_pool = st.predict(np.c_[logit(pp), z["pool"]])
        est = em_prior(q_pool, vprior)
        q = adjust_posteriors(q_pool, vprior, est)
        log(f"tfidf round {rnd} (every domain but {dom}, {len(source)} reviews + {len(pseudo_idx)} pseudo-labels) "
            f"in {time.time() - t0:.0f}s")
        pl = pseudo_labels(q, args.conf)
        pseudo_idx, pseudo_lab = pl.index.tolist(), pl.labels.tolist()
    zv, zp, zr, zt = z["val"], z["pool"], z["probes"], z["test"]
    if args.balance:  # as many pseudo-labels, their positive share held at the pool's EM estimate
        n_pos = int(round(est * len(pl.index)))
        order = np.argsort(-q)
        pos = [i for i in order[:n_pos].tolist() if q[i] > 0.5]
        neg = [i for i in order[::-1][:len(pl.index) - n_pos].tolist() if q[i] < 0.5]
        idx = np.array(sorted(pos + neg))
        pl = PseudoLabels(index=idx, labels=(q[idx] > 0.5).astype(np.int64))
    pseudo = [Review(id=pool[i].id, domain=dom, label=int(lab), text=pool[i].text)
              for i, lab in zip(pl.index.tolist(), pl.labels.tolist())]
    # reported, never used: how right the pseudo-labels are
    pseudo_acc = float(np.mean([p.label == pool[i].label for p, i in zip(pseudo, pl.index.tolist())]))
    replay = random.Random(13).sample(source, min(len(source), int(args.replay * len(pseudo))))
    train = pseudo + replay
    random.Random(13).shuffle(train)
    s_prior = round(sum(r.label for r in train) / len(train), 6)
    yr, yt = np.array([r.label for r in prb]), np.array([r.label for r in test])
    res: dict = {"domain": dom, "teacher": str(args.teacher), "n_pool": len(pool), "n_pseudo": len(pseudo),
                 "pseudo_pos_share": round(float(np.mean([p.label for p in pseudo])), 4),
                 "pseudo_acc": round(pseudo_acc, 4), "em_prior_pool": round(est, 4), "n_replay": len(replay),
                 "train_prior": s_prior, "conf": args.conf, "lr": args.lr, "tfidf_rounds": args.tfidf_rounds, "balance": args.balance,
                 "probes_teacher": scores(yr, pr, t_prior, pp),
                 "probes_stack": scores(yr, st.predict(np.c_[logit(pr), zr]), vprior, q_pool)}
    log(f"pseudo {len(pseudo)} of {len(pool)} (acc {pseudo_acc:.4f}, pos share {res['pseudo_pos_share']}) "
        f"+ replay {len(replay)}; probes teacher {res['probes_teacher']} stack {res['probes_stack']}")
    best = {"score": -1.0}
    em_pool = random.Random(5).sample(pool, min(len(pool), 1500))  # EM needs a sample, not all (CPU)

    def score_fn(model):
        p_r, p_p = probs(model, prb), probs(model, em_pool)
        s = scores(yr, p_r, s_prior, p_p)
        save_checkpoint(model, tok, work / "last")
        if s["acc_adj"] > best["score"]:
            best["score"] = s["acc_adj"]
            save_checkpoint(model, tok, work / "best", s_prior)
        return s["acc_adj"], s

    cfg = FinetuneConfig(epochs=args.epochs, lr=args.lr, max_length=args.max_length, eval_every=args.eval_every,
                         patience=100, warmup_frac=0.05, max_minutes=args.max_minutes)
    _, info = finetune(args.teacher, tok, train, [], None, cfg, "cpu", log, score_fn=score_fn)
    res["finetune"] = {k: info[k] for k in ("best_step", "best_val_accuracy") if k in info}
    res["history"] = info.get("history")
    student = BertForSequenceClassification.from_pretrained(str(work / "best"), local_files_only=True)
    sp_pool, sp_test, sp_val = probs(student, pool), probs(student, test), probs(student, val)
    res["test_teacher"] = scores(yt, pt, t_prior, pp)
    res["test_stack"] = scores(yt, st.predict(np.c_[logit(pt), zt]), vprior, q_pool)
    res["test_selftrained"] = scores(yt, sp_test, s_prior, sp_pool)
    st2 = LogitStacker().fit(np.c_[logit(sp_val), zv], yv)
    res["test_selftrained_stack"] = scores(yt, st2.predict(np.c_[logit(sp_test), zt]), vprior,
                                           st2.predict(np.c_[logit(sp_pool), zp]))
    log(json.dumps({k: v for k, v in res.items() if k != "history"}, ensure_ascii=False))
    (work / "result.json").write_text(json.dumps(res, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
