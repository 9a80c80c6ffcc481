"""Ensembles of a fine-tuned bge teacher with char TF-IDF + LR, and self-training on a new domain.

Why: the teacher ranks unseen-domain reviews better than character n-grams, and n-grams fitted on
all the labelled data know words the teacher's 12k reviews never showed it; the two err on different
reviews. Everything that is fitted here is fitted on the teacher's in-domain validation reviews
(never trained on by either member) or on unlabelled texts; the 3,000-review test samples of the
held-out domains (and the random split's test part) choose nothing.

    nice -n 10 python bench/bench_sentiment_ensemble.py held-out --teacher ~/.cache/trustscope/train/teacher_A1
    nice -n 10 python bench/bench_sentiment_ensemble.py random --teacher ~/.cache/trustscope/train/R1/model
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_sentiment_continue import held_out_split  # noqa: E402

from trustscope.sentiment.baselines import tfidf_lr  # noqa: E402
from trustscope.sentiment.ensemble import (LogitStacker, fit_logit_weight, logit,  # noqa: E402
                                           pseudo_labels, sigmoid)
from trustscope.sentiment.priors import adjust_posteriors, em_prior  # noqa: E402
from trustscope.sentiment.transfer import HELD_OUT, roc_auc  # noqa: E402

CACHE = Path.home() / ".cache" / "trustscope" / "train" / "E1"


def _cache_name(model_dir: Path) -> str:
    return model_dir.name if model_dir.name not in ("model", "best", "last") else \
        f"{model_dir.parent.name}_{model_dir.name}"


def teacher_outputs(model_dir: Path, name: str, texts: list[str], max_length: int, threads: int):
    """(P(positive), pooled) from the teacher's ONNX fp32 export, cached by ``name``."""
    CACHE.mkdir(parents=True, exist_ok=True)
    f = CACHE / f"{_cache_name(model_dir)}_{name}.npz"
    if f.exists():
        z = np.load(f)
        if len(z["p"]) == len(texts):
            return z["p"], z["pooled"]
    from trustscope.sentiment.fasttok import FastTokenizer
    from trustscope.sentiment.inference import run_bucketed
    from trustscope.sentiment.onnx_backend import OnnxRunner

    t0 = time.time()
    probs, pooled = run_bucketed(OnnxRunner(model_dir / "model.onnx", threads), FastTokenizer(model_dir),
                                 texts, max_length, 64)
    print(f"  teacher {name}: {len(texts)} texts {len(texts) / (time.time() - t0):.0f}/s", file=sys.stderr)
    np.savez(f, p=probs[:, 1], pooled=pooled)
    return probs[:, 1], pooled


def score(y, p, train_prior=None, unlabelled=None) -> dict:
    """acc at 0.5, acc after EM prior adjustment (EM over ``unlabelled`` posteriors or ``p``), AUC."""
    y = np.asarray(y)
    p = np.asarray(p, dtype=np.float64)
    out = {"acc": float(((p > 0.5) == y).mean()), "auc": roc_auc(y.tolist(), p.tolist())}
    if train_prior is not None:
        pool = p if unlabelled is None else unlabelled
        est = em_prior(pool, train_prior)
        out["acc_adj"] = float(((adjust_posteriors(p, train_prior, est) > 0.5) == y).mean())
        out["prior_est"] = est
    return out


def Stacker(z_val, y_val) -> LogitStacker:
    return LogitStacker().fit(z_val, y_val)


def fit_weight(zb_val, zt_val, y_val) -> float:
    return fit_logit_weight(zb_val, zt_val, y_val)


def held_out(args) -> dict:
    from trustscope.sentiment.data import load_reviews

    reviews = load_reviews()
    seen, val, unseen, tests, probes = held_out_split(reviews)
    src = seen + unseen  # the eight training domains minus the teacher's validation reviews
    prior_file = args.teacher / "prior.json"  # the teacher's training prior
    prior = (json.loads(prior_file.read_text())["train_prior"] if prior_file.exists()
             else float(np.mean([r.label for r in seen])))
    yv = np.array([r.label for r in val])
    pb_val, _ = teacher_outputs(args.teacher, "val", [r.text for r in val], 64, args.threads)
    res: dict = {"train_prior": prior, "val": {}, "domains": {}}
    res["val"]["teacher"] = score(yv, pb_val)
    for dom in args.domain or HELD_OUT:
        other = [r for r in reviews if r.domain in HELD_OUT and r.domain != dom]
        dom_all = [r for r in reviews if r.domain == dom]
        test = tests[dom]
        if args.pool_size:  # unlabelled pool = the test sample + pool_size other texts of the domain
            test_ids = {r.id for r in test}
            import random

            extra = random.Random(5).sample([r for r in dom_all if r.id not in test_ids], args.pool_size)
            dom_all = test + extra
        yt = np.array([r.label for r in test])
        tid = {r.id: i for i, r in enumerate(dom_all)}
        ti = np.array([tid[r.id] for r in test])
        full = CACHE / f"{_cache_name(args.teacher)}_all_{dom.replace('/', '_')}.npz"
        if args.pool_size and full.exists():  # a subset of the whole domain's cached outputs
            z = np.load(full)
            pos = {r.id: i for i, r in enumerate(r for r in reviews if r.domain == dom)}
            sel = np.array([pos[r.id] for r in dom_all])
            pb_all, pooled_all = z["p"][sel], z["pooled"][sel]
        else:
            pb_all, pooled_all = teacher_outputs(
                args.teacher, f"{'pool%d' % args.pool_size if args.pool_size else 'all'}_{dom.replace('/', '_')}",
                [r.text for r in dom_all], 64, args.threads)
        pb = pb_all[ti]
        d: dict = {"n_test": len(test), "n_unlabelled": len(dom_all)}
        d["teacher"] = score(yt, pb, prior, pb_all)
        t0 = time.time()
        for tname, tset in (("tfidf8", src), ("tfidf_all_other", src + other)):
            if args.tfidf != "both" and tname != args.tfidf:
                continue
            pipe = tfidf_lr([r.text for r in tset], [r.label for r in tset])
            zt_val = pipe.decision_function([r.text for r in val])
            zt_all = pipe.decision_function([r.text for r in dom_all])
            tprior = float(np.mean([r.label for r in tset]))
            d[tname] = score(yt, sigmoid(zt_all[ti]), tprior, sigmoid(zt_all))
            d[tname]["n_train"] = len(tset)
            d[tname]["val_acc"] = float(((zt_val > 0) == yv).mean())  # in-domain validation
            # (a) stacked: LR on [teacher logit, TF-IDF logit] fitted on val, then EM on the domain
            st = Stacker(np.c_[logit(pb_val), zt_val], yv)
            pe_all = st.predict(np.c_[logit(pb_all), zt_all])
            vprior = float(yv.mean())
            d[f"stack_{tname}"] = {**score(yt, pe_all[ti], vprior, pe_all), "weights": [round(w, 3) for w in st.weights],
                                   "val_acc_fitted_on": float(((st.predict(np.c_[logit(pb_val), zt_val]) > 0.5) == yv).mean())}
            # (b) each member prior-adjusted by its own EM, logit average with a val-fitted weight
            w = fit_weight(logit(pb_val), zt_val, yv)
            ab = adjust_posteriors(pb_all, prior, em_prior(pb_all, prior))
            at = adjust_posteriors(sigmoid(zt_all), tprior, em_prior(sigmoid(zt_all), tprior))
            pm = sigmoid(w * logit(ab) + (1 - w) * logit(at))
            d[f"avg_{tname}"] = {**score(yt, pm[ti]), "w_teacher": w}
            # (c) self-training: pseudo-labels from the stacked, prior-adjusted ensemble on the
            # domain's unlabelled texts, added to TF-IDF's training data; stacker refitted on val
            est = em_prior(pe_all, vprior)
            q = adjust_posteriors(pe_all, vprior, est)
            for rnd in range(args.rounds):
                pl = pseudo_labels(q, args.pseudo_conf)
                keep = np.zeros(len(q), dtype=bool)
                keep[pl.index] = True
                texts = [r.text for r in tset] + [dom_all[i].text for i in np.flatnonzero(keep)]
                labels = [r.label for r in tset] + (q[keep] > 0.5).astype(int).tolist()
                pipe2 = tfidf_lr(texts, labels)
                zt2_val = pipe2.decision_function([r.text for r in val])
                zt2_all = pipe2.decision_function([r.text for r in dom_all])
                d[f"self_{tname}_tfidf_r{rnd + 1}"] = {**score(yt, sigmoid(zt2_all[ti]), tprior, sigmoid(zt2_all)),
                                                       "n_pseudo": int(keep.sum()),
                                                       "pseudo_acc": float(((q[keep] > 0.5) == np.array([dom_all[i].label for i in np.flatnonzero(keep)])).mean())}
                st2 = Stacker(np.c_[logit(pb_val), zt2_val], yv)
                pe2 = st2.predict(np.c_[logit(pb_all), zt2_all])
                d[f"self_{tname}_stack_r{rnd + 1}"] = {**score(yt, pe2[ti], vprior, pe2), "weights": [round(w, 3) for w in st2.weights]}
                # a domain head: LR on the teacher's pooled embedding, pseudo-labelled texts only
                from sklearn.linear_model import LogisticRegression

                head = LogisticRegression(C=1.0, max_iter=2000).fit(pooled_all[keep], (q[keep] > 0.5).astype(int))
                ph = head.predict_proba(pooled_all)[:, 1]
                d[f"self_{tname}_pooledhead_r{rnd + 1}"] = score(yt, ph[ti])
                pe3 = sigmoid((logit(q) + logit(ph)) / 2)
                d[f"self_{tname}_stack+head_r{rnd + 1}"] = score(yt, pe3[ti])
                est = em_prior(pe2, vprior)
                q = adjust_posteriors(pe2, vprior, est)
        d["minutes"] = (time.time() - t0) / 60
        res["domains"][dom] = d
        print(json.dumps({dom: d}, indent=1, ensure_ascii=False), flush=True)
    return res


def random_split_run(args) -> dict:
    from trustscope.sentiment.data import load_reviews, random_split

    sp = random_split(load_reviews(), seed=13)
    yv = np.array([r.label for r in sp.val])
    yt = np.array([r.label for r in sp.test])
    pb_val, _ = teacher_outputs(args.teacher, "rs_val", [r.text for r in sp.val], 64, args.threads)
    pb_t, _ = teacher_outputs(args.teacher, "rs_test", [r.text for r in sp.test], 64, args.threads)
    pipe = tfidf_lr([r.text for r in sp.train], [r.label for r in sp.train])
    zt_val = pipe.decision_function([r.text for r in sp.val])
    zt_t = pipe.decision_function([r.text for r in sp.test])
    res = {"val": {"teacher": score(yv, pb_val), "tfidf": score(yv, sigmoid(zt_val))},
           "test": {"teacher": score(yt, pb_t), "tfidf": score(yt, sigmoid(zt_t))}}
    st = Stacker(np.c_[logit(pb_val), zt_val], yv)
    res["test"]["stack"] = {**score(yt, st.predict(np.c_[logit(pb_t), zt_t])), "weights": [round(w, 3) for w in st.weights]}
    w = fit_weight(logit(pb_val), zt_val, yv)
    res["test"]["avg"] = {**score(yt, sigmoid(w * logit(pb_t) + (1 - w) * zt_t)), "w_teacher": w}
    for extra in args.member:  # e.g. the distilled default student (its own max length 128)
        pe_val, _ = teacher_outputs(extra, "rs_val", [r.text for r in sp.val], 128, args.threads)
        pe_t, _ = teacher_outputs(extra, "rs_test", [r.text for r in sp.test], 128, args.threads)
        name = _cache_name(extra)
        res["val"][name] = score(yv, pe_val)
        res["test"][name] = score(yt, pe_t)
        for combo, zv, zt in ((f"stack_{name}+tfidf", np.c_[logit(pe_val), zt_val], np.c_[logit(pe_t), zt_t]),
                              (f"stack_teacher+{name}+tfidf", np.c_[logit(pb_val), logit(pe_val), zt_val],
                               np.c_[logit(pb_t), logit(pe_t), zt_t])):
            s2 = Stacker(zv, yv)
            res["test"][combo] = {**score(yt, s2.predict(zt)), "weights": [round(w, 3) for w in s2.weights]}
    per = {}
    ps = st.predict(np.c_[logit(pb_t), zt_t])
    for dom in sorted({r.domain for r in sp.test}):
        idx = np.array([i for i, r in enumerate(sp.test) if r.domain == dom])
        per[dom] = {"n": len(idx), "teacher": score(yt[idx], pb_t[idx])["acc"],
                    "tfidf": score(yt[idx], sigmoid(zt_t[idx]))["acc"], "stack": score(yt[idx], ps[idx])["acc"]}
    res["per_domain"] = per
    print(json.dumps(res, indent=1, ensure_ascii=False), flush=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["held-out", "random"])
    ap.add_argument("--teacher", type=Path, required=True, help="model dir with model.onnx")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--member", type=Path, action="append", default=[],
                    help="random mode: another model dir (with model.onnx) to stack with")
    ap.add_argument("--domain", action="append", default=[], help="held-out mode: only these domains")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--tfidf", choices=["both", "tfidf8", "tfidf_all_other"], default="both",
                    help="TF-IDF training sets: the eight domains, and/or every domain but the tested one")
    ap.add_argument("--pseudo-conf", type=float, default=0.9)
    ap.add_argument("--pool-size", type=int, default=0,
                    help="unlabelled pool per domain: the test sample + this many others (0 = all)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    args.teacher = args.teacher.expanduser()
    t0 = time.time()
    res = held_out(args) if args.mode == "held-out" else random_split_run(args)
    res["minutes"] = (time.time() - t0) / 60
    if args.json:
        args.json.write_text(json.dumps(res, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
