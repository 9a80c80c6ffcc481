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

from trustscope.sentiment.baselines import tfidf_variant  # noqa: E402
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
    suffix = "" if max_length == 64 else f"_L{max_length}"  # 64: the earlier sessions' caches
    f = CACHE / f"{_cache_name(model_dir)}_{name}{suffix}.npz"
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


def probe_score(y, p, train_prior, pool) -> dict:
    """acc, acc after the prior adjustment EM estimated on the domain's pool, AUC (probe texts)."""
    est = em_prior(np.asarray(pool, dtype=np.float64), train_prior)
    adj = adjust_posteriors(np.asarray(p, dtype=np.float64), train_prior, est)
    return {"acc": float(((np.asarray(p) > 0.5) == y).mean()), "acc_adj": float(((adj > 0.5) == y).mean()),
            "auc": roc_auc(np.asarray(y).tolist(), np.asarray(p).tolist())}


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
    length = args.bert_length or 64  # the held-out teachers were trained and chosen at 64 tokens
    pb_val, _ = teacher_outputs(args.teacher, "val", [r.text for r in val], length, args.threads)
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
        slug = dom.replace('/', '_')
        all_name = f"{'pool%d' % args.pool_size if args.pool_size else 'all'}_{slug}"  # the cache name
        tid = {r.id: i for i, r in enumerate(dom_all)}
        ti = np.array([tid[r.id] for r in test])
        full = CACHE / f"{_cache_name(args.teacher)}_all_{slug}.npz"
        if args.pool_size and full.exists():  # a subset of the whole domain's cached outputs
            z = np.load(full)
            pos = {r.id: i for i, r in enumerate(r for r in reviews if r.domain == dom)}
            sel = np.array([pos[r.id] for r in dom_all])
            pb_all, pooled_all = z["p"][sel], z["pooled"][sel]
        else:
            pb_all, pooled_all = teacher_outputs(args.teacher, all_name, [r.text for r in dom_all], length,
                                                 args.threads)
        pb = pb_all[ti]
        d: dict = {"n_test": len(test), "n_unlabelled": len(dom_all)}
        d["teacher"] = score(yt, pb, prior, pb_all)
        # labelled probes outside the test sample (bench_sentiment_continue's): the choice among
        # variants is made on these, never on the test sample; the pool's EM estimate adjusts them
        prb = probes[dom]
        yp = np.array([r.label for r in prb])
        pb_p, _ = teacher_outputs(args.teacher, f"probes_{dom.replace('/', '_')}", [r.text for r in prb], length,
                                  args.threads)
        probe: dict = {"teacher": probe_score(yp, pb_p, prior, pb_all)}
        d["probes"] = probe
        # more BERT members (--member): their logits join the stacks as extra columns
        xv, xa, xp = (np.zeros((n, 0)) for n in (len(val), len(dom_all), len(prb)))
        for m in args.member:
            mv, _ = teacher_outputs(m, "val", [r.text for r in val], length, args.threads)
            ma, _ = teacher_outputs(m, all_name, [r.text for r in dom_all], length, args.threads)
            mp, _ = teacher_outputs(m, f"probes_{slug}", [r.text for r in prb], length, args.threads)
            xv, xa, xp = np.c_[xv, logit(mv)], np.c_[xa, logit(ma)], np.c_[xp, logit(mp)]
            d[f"member_{_cache_name(m)}"] = score(yt, ma[ti], prior, ma)
        fit = (lambda texts, labels: tfidf_variant(args.tfidf_variant, texts, labels))
        t0 = time.time()
        for tname, tset in (("tfidf8", src), ("tfidf_all_other", src + other)):
            if args.tfidf != "both" and tname != args.tfidf:
                continue
            pipe = fit([r.text for r in tset], [r.label for r in tset])
            zt_val = pipe.decision_function([r.text for r in val])
            zt_all = pipe.decision_function([r.text for r in dom_all])
            zt_p = pipe.decision_function([r.text for r in prb])
            tprior = float(np.mean([r.label for r in tset]))
            d[tname] = score(yt, sigmoid(zt_all[ti]), tprior, sigmoid(zt_all))
            probe[tname] = probe_score(yp, sigmoid(zt_p), tprior, sigmoid(zt_all))
            d[tname]["n_train"] = len(tset)
            d[tname]["val_acc"] = float(((zt_val > 0) == yv).mean())  # in-domain validation
            # (a) stacked: LR on [teacher logit, TF-IDF logit] fitted on val, then EM on the domain
            st = Stacker(np.c_[logit(pb_val), xv, zt_val], yv)
            pe_all = st.predict(np.c_[logit(pb_all), xa, zt_all])
            vprior = float(yv.mean())
            probe[f"stack_{tname}"] = probe_score(yp, st.predict(np.c_[logit(pb_p), xp, zt_p]), vprior, pe_all)
            d[f"stack_{tname}"] = {**score(yt, pe_all[ti], vprior, pe_all), "weights": [round(w, 3) for w in st.weights],
                                   "val_acc_fitted_on": float(((st.predict(np.c_[logit(pb_val), xv, zt_val]) > 0.5) == yv).mean())}
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
                pipe2 = fit(texts, labels)
                zt2_val = pipe2.decision_function([r.text for r in val])
                zt2_all = pipe2.decision_function([r.text for r in dom_all])
                zt2_p = pipe2.decision_function([r.text for r in prb])
                d[f"self_{tname}_tfidf_r{rnd + 1}"] = {**score(yt, sigmoid(zt2_all[ti]), tprior, sigmoid(zt2_all)),
                                                       "n_pseudo": int(keep.sum()),
                                                       "pseudo_acc": float(((q[keep] > 0.5) == np.array([dom_all[i].label for i in np.flatnonzero(keep)])).mean())}
                st2 = Stacker(np.c_[logit(pb_val), xv, zt2_val], yv)
                pe2 = st2.predict(np.c_[logit(pb_all), xa, zt2_all])
                probe[f"self_{tname}_stack_r{rnd + 1}"] = probe_score(
                    yp, st2.predict(np.c_[logit(pb_p), xp, zt2_p]), vprior, pe2)
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


def tfidf_outputs(variant: str, sp) -> tuple[np.ndarray, np.ndarray]:
    """(val logits, test logits) of a TF-IDF variant fitted on the random split's training part."""
    from trustscope.sentiment.baselines import tfidf_variant

    CACHE.mkdir(parents=True, exist_ok=True)
    f = CACHE / f"tfidf_{variant}_rs.npz"
    if f.exists():
        z = np.load(f)
        return z["val"], z["test"]
    t0 = time.time()
    pipe = tfidf_variant(variant, [r.text for r in sp.train], [r.label for r in sp.train])
    zv, zt = pipe.decision_function([r.text for r in sp.val]), pipe.decision_function([r.text for r in sp.test])
    print(f"  tfidf {variant}: fitted and scored in {time.time() - t0:.0f}s", file=sys.stderr)
    np.savez(f, val=zv, test=zt)
    return zv, zt


def cv_stack(z_val: np.ndarray, y_val: np.ndarray, folds: int = 10) -> dict:
    """Out-of-fold accuracy and log-loss of the stacker on the validation reviews (the choice)."""
    from sklearn.model_selection import StratifiedKFold

    oof = np.zeros(len(y_val))
    for tr, te in StratifiedKFold(folds, shuffle=True, random_state=13).split(z_val, y_val):
        oof[te] = Stacker(z_val[tr], y_val[tr]).predict(z_val[te])
    q = np.clip(oof, 1e-9, 1 - 1e-9)
    return {"cv_acc": float(((oof > 0.5) == y_val).mean()),
            "cv_logloss": float(-np.mean(y_val * np.log(q) + (1 - y_val) * np.log(1 - q)))}


def random_split_run(args) -> dict:
    """Teachers, students and TF-IDF variants on the random split, alone and stacked.

    Every combination is stacked on the 3,238 validation reviews; the one reported as chosen has
    the best 10-fold out-of-fold accuracy there (log-loss breaks ties). The test reviews choose
    nothing: their figures are printed for every combination, the choice is made before.
    """
    from itertools import combinations

    from trustscope.sentiment.data import load_reviews, random_split

    sp = random_split(load_reviews(), seed=13)
    yv = np.array([r.label for r in sp.val])
    yt = np.array([r.label for r in sp.test])
    members: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for i, m in enumerate([args.teacher] + args.member):
        length = 128 if (m / "heads").exists() else (args.bert_length or 64)  # the distilled default reads 128
        pv, _ = teacher_outputs(m, "rs_val", [r.text for r in sp.val], length, args.threads)
        pt, _ = teacher_outputs(m, "rs_test", [r.text for r in sp.test], length, args.threads)
        members["teacher" if i == 0 else _cache_name(m)] = (logit(pv), logit(pt))
    for v in args.tfidf_variant or ["char13"]:
        members["tfidf" if v == "char13" else f"tfidf_{v}"] = tfidf_outputs(v, sp)
    res: dict = {"val": {}, "test": {}, "combos": {}}
    for name, (zv, zt) in members.items():
        res["val"][name] = score(yv, sigmoid(zv))
        res["test"][name] = score(yt, sigmoid(zt), float(yv.mean()))
    names = list(members)
    combos = [c for k in range(2, min(4, len(names)) + 1) for c in combinations(names, k)
              if "teacher" in c and any(n.startswith("tfidf") for n in c)]
    for c in combos:
        zv = np.column_stack([members[n][0] for n in c])
        zt = np.column_stack([members[n][1] for n in c])
        st = Stacker(zv, yv)
        pt = st.predict(zt)
        res["combos"]["+".join(c)] = {**cv_stack(zv, yv), "test": score(yt, pt, float(yv.mean())),
                                      "weights": [round(w, 3) for w in st.weights]}
    if "tfidf" in members:  # the third session's figures, kept comparable
        zbv, zbt = members["teacher"]
        ztv, ztt = members["tfidf"]
        w = fit_weight(zbv, ztv, yv)
        res["test"]["avg"] = {**score(yt, sigmoid(w * zbt + (1 - w) * ztt)), "w_teacher": w}
    chosen = max(res["combos"], key=lambda k: (res["combos"][k]["cv_acc"], -res["combos"][k]["cv_logloss"]))
    res["chosen"] = chosen
    c = chosen.split("+")
    pc = Stacker(np.column_stack([members[n][0] for n in c]), yv).predict(
        np.column_stack([members[n][1] for n in c]))
    per = {}
    for dom in sorted({r.domain for r in sp.test}):
        idx = np.array([i for i, r in enumerate(sp.test) if r.domain == dom])
        row = {"n": len(idx)}
        for name in ("teacher", "tfidf"):
            if name in members:
                s_ = score(yt[idx], sigmoid(members[name][1][idx]))
                row[name], row[f"{name}_auc"] = s_["acc"], s_["auc"]
        s_ = score(yt[idx], pc[idx])
        row["chosen"], row["chosen_auc"] = s_["acc"], s_["auc"]
        per[dom] = row
    res["per_domain"] = per
    print(json.dumps(res, indent=1, ensure_ascii=False), flush=True)
    return res


def export_run(args) -> dict:
    """Write the teacher + char TF-IDF stack into ``--target`` (ngram_member.py's files).

    held-out: the teacher is the held-out A1; TF-IDF trains on every review but A1's 1,000
    validation reviews, and the stack is fitted on those 1,000. random: TF-IDF trains on the random
    split's training part, the stack on its 3,238 validation reviews (the test part stays unseen).
    The neutral band is refitted on the stack's out-of-fold validation posteriors and
    ``prior.json`` becomes the validation prior (the stack's calibration base); then the fixture.
    """
    from sklearn.model_selection import StratifiedKFold

    from trustscope.sentiment.baselines import tfidf_lr
    from trustscope.sentiment.calibration import fit_neutral_band, save_band
    from trustscope.sentiment.data import load_reviews, random_split
    from trustscope.sentiment.ngram_member import export_member, save_ensemble

    reviews = load_reviews()
    if args.split == "held-out":
        val = held_out_split(reviews)[1]
        val_ids = {r.id for r in val}
        train = [r for r in reviews if r.id not in val_ids]
        cache = "val"
    else:
        sp = random_split(reviews, seed=13)
        train, val, cache = sp.train, sp.val, "rs_val"
    yv = np.array([r.label for r in val])
    from trustscope.settings import get_settings

    # the stack is fitted on the teacher's logits at the length the service reads (TS_SENTIMENT_MAX_LENGTH)
    length = args.bert_length or get_settings().sentiment_max_length
    pb_val, _ = teacher_outputs(args.teacher, cache, [r.text for r in val], length, args.threads)
    t0 = time.time()
    pipe = tfidf_lr([r.text for r in train], [r.label for r in train])
    print(f"  tfidf fitted on {len(train)} in {time.time() - t0:.0f}s", file=sys.stderr)
    target = args.target
    member = "tfidf_char13.npz"
    export_member(pipe, target / member)
    zv = np.c_[logit(pb_val), pipe.decision_function([r.text for r in val])]
    st = Stacker(zv, yv)
    oof = np.zeros(len(yv))
    for tr, te in StratifiedKFold(10, shuffle=True, random_state=13).split(zv, yv):
        oof[te] = Stacker(zv[tr], yv[tr]).predict(zv[te])
    w_b, w_t, b = st.weights
    vprior = round(float(yv.mean()), 6)
    save_ensemble(target, member, w_b, w_t, b, split=args.split, stack_fitted_on=f"{len(yv)} validation reviews",
                  tfidf_trained_on=f"{len(train)} reviews", tfidf="char 1-3-grams, sublinear tf, min_df 2, LR C=4",
                  why="P(positive) = sigmoid(w_bert * logit(p_bert) + w_tfidf * tfidf_logit + intercept); "
                      "docs/benchmarks.md, Sentiment, fourth session")
    band = fit_neutral_band(oof.tolist(), yv.tolist())
    save_band(band, target)
    (target / "prior.json").write_text(json.dumps(
        {"train_prior": vprior, "why": f"share of positives in the {len(yv)} validation reviews the "
                                       "teacher + TF-IDF stack is calibrated on"}) + "\n")
    res = {"weights": st.weights, "val_prior": vprior, "val_oof_acc": float(((oof > 0.5) == yv).mean()),
           "band": [band.low, band.high], "member_bytes": (target / member).stat().st_size}
    from trustscope.sentiment import load_classifier

    clf = load_classifier(str(target), threads=args.threads)
    rows = [json.loads(x) for x in (Path(__file__).resolve().parents[1] / "tests" / "fixtures" /
                                    "sentiment_zh_fixture.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
    got = clf.classify([r["text"] for r in rows])
    res["fixture"] = sum((g.prob_positive > 0.5) == bool(r["label"]) for g, r in zip(got, rows))
    clf.ensemble = None
    alone = clf.classify([r["text"] for r in rows])
    res["fixture_teacher_alone"] = sum((g.prob_positive > 0.5) == bool(r["label"]) for g, r in zip(alone, rows))
    res["fixture_wrong"] = [r["id"] for g, r in zip(got, rows) if (g.prob_positive > 0.5) != bool(r["label"])]
    print(json.dumps(res, indent=1, ensure_ascii=False), flush=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["held-out", "random", "export"])
    ap.add_argument("--split", choices=["held-out", "random"], default="held-out", help="export mode")
    ap.add_argument("--target", type=Path, default=None, help="export mode: the model dir to write into")
    ap.add_argument("--teacher", type=Path, required=True, help="model dir with model.onnx")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--member", type=Path, action="append", default=[],
                    help="another model dir (with model.onnx) to stack with (held-out: an extra column in every stack)")
    ap.add_argument("--tfidf-variant", action="append", default=[],
                    help="TF-IDF member(s), baselines.TFIDF_VARIANTS (default char13); held-out mode uses the first")
    ap.add_argument("--domain", action="append", default=[], help="held-out mode: only these domains")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--tfidf", choices=["both", "tfidf8", "tfidf_all_other"], default="both",
                    help="TF-IDF training sets: the eight domains, and/or every domain but the tested one")
    ap.add_argument("--pseudo-conf", type=float, default=0.9)
    ap.add_argument("--pool-size", type=int, default=0,
                    help="unlabelled pool per domain: the test sample + this many others (0 = all)")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--bert-length", type=int, default=None,
                    help="tokens per text for the BERT members (random: default 64 as the earlier sessions; "
                         "export: default TS_SENTIMENT_MAX_LENGTH, what the service reads)")
    args = ap.parse_args()
    args.teacher = args.teacher.expanduser()
    if args.mode == "held-out":
        args.tfidf_variant = (args.tfidf_variant or ["char13"])[0]
    t0 = time.time()
    res = {"held-out": held_out, "random": random_split_run, "export": export_run}[args.mode](args)
    res["minutes"] = (time.time() - t0) / 60
    if args.json:
        args.json.write_text(json.dumps(res, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
