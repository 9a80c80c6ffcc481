"""Training the paid-review head: logistic regression on pooled sentiment-BERT embeddings.

Data: the campaign simulator with every attack injected, one stream per seed. A text is positive
when an attack wrote it (labels ``copy_paste`` ... ``competitor``, ``camouflaged`` included even
where its text is an unmarked real review), negative when an honest reviewer or a camouflage
("cover") review did. Campaign texts are written from the same real reviews as honest ones
(``textpool.paid_script``), so the head has to learn paid/templated style, not the domain.

Splits: training seeds -> fit (features standardised, class-balanced L2 logistic regression, C
chosen on validation); validation seeds -> Platt calibration (folded into weights and bias, so the
file keeps the plain ``sigmoid(w . z + b)`` contract) and the operating threshold; held-out seeds
-> reported metrics. Texts seen in training are removed from validation and test. One corpus domain
(``food_delivery`` by default) is left out of training and validation altogether and reported
separately: how well the style transfers to a domain the head never saw.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trustscope.integrity.evaluate import HELDOUT_SEEDS
from trustscope.integrity.paid_head import (
    NAME,
    Encoder,
    HeadFile,
    head_path,
    sha256_file,
)
from trustscope.integrity.simulator import ATTACKS, SimConfig, simulate

HEAD_TRAIN_SEEDS = (1, 2, 3, 4, 5, 6, 7, 8)  # more campaigns than the combiner's 3 tuning seeds
VAL_SEEDS = (11, 12)
HOLDOUT_DOMAIN = "food_delivery"
HOLDOUT_DOMAIN_SEEDS = (201, 202)
MIN_PRECISION = 0.9  # the operating threshold: the lowest with this precision on validation
C_GRID = (0.01, 0.1, 1.0)


@dataclass
class HeadData:
    texts: list[str]
    y: list[int]
    labels: list[str]  # the simulator's label per text (honest / cover / attack name)


def head_data(seeds: Sequence[int], *, domains: tuple[str, ...] | None = None,
              exclude_domains: tuple[str, ...] = (), use_corpus: bool = True,
              drop: set[str] | None = None) -> tuple[HeadData, str]:
    """Unique texts of the simulated streams of these seeds (all attacks), minus ``drop``."""
    seen: set[str] = set(drop or ())
    out = HeadData([], [], [])
    source = ""
    for seed in seeds:
        sim = simulate(SimConfig(seed=seed, attacks=ATTACKS, use_corpus=use_corpus, domains=domains,
                                 exclude_domains=exclude_domains))
        source = sim.text_source
        for e in sim.events:
            if not e.text or e.text in seen:
                continue
            seen.add(e.text)
            label = sim.labels[e.id]
            out.texts.append(e.text)
            out.labels.append(label)
            out.y.append(0 if label in ("honest", "cover") else 1)
    return out, source


def metrics(y: Sequence[int], p: Any, threshold: float, labels: Sequence[str] | None = None) -> dict[str, Any]:
    import numpy as np
    from sklearn.metrics import average_precision_score, roc_auc_score

    y = np.asarray(y)
    p = np.asarray(p)
    pred = p >= threshold
    tp = int((pred & (y == 1)).sum())
    fp = int((pred & (y == 0)).sum())
    fn = int((~pred & (y == 1)).sum())
    out: dict[str, Any] = {
        "n": len(y), "positives": int(y.sum()),
        "roc_auc": round(float(roc_auc_score(y, p)), 4) if 0 < y.sum() < len(y) else None,
        "average_precision": round(float(average_precision_score(y, p)), 4) if y.sum() else None,
        "threshold": round(threshold, 4),
        "precision": round(tp / (tp + fp), 4) if tp + fp else None,
        "recall": round(tp / (tp + fn), 4) if tp + fn else None,
        "honest_flagged": round(fp / max(1, int((y == 0).sum())), 4),
    }
    if labels is not None:
        lab = np.asarray(labels)
        out["recall_by_attack"] = {a: round(float(pred[lab == a].mean()), 4)
                                   for a in ATTACKS if (lab == a).any()}
        out["flagged_by_label"] = {k: round(float(pred[lab == k].mean()), 4)
                                   for k in ("honest", "cover") if (lab == k).any()}
    return out


def _threshold_for_precision(y: Any, p: Any, min_precision: float) -> float:
    """The lowest threshold whose precision on (y, p) is at least ``min_precision`` (>= 0.5)."""
    import numpy as np

    order = np.argsort(-p)
    ys, ps = np.asarray(y)[order], p[order]
    tp = np.cumsum(ys)
    prec = tp / np.arange(1, len(ys) + 1)
    ok = np.nonzero(prec >= min_precision)[0]
    if len(ok) == 0:
        return 0.5
    return float(max(0.5, ps[ok[-1]]))


def train(model_dir: str | Path, train_seeds: Sequence[int] = HEAD_TRAIN_SEEDS,
          val_seeds: Sequence[int] = VAL_SEEDS, test_seeds: Sequence[int] = HELDOUT_SEEDS,
          holdout_domain: str | None = HOLDOUT_DOMAIN,
          holdout_seeds: Sequence[int] = HOLDOUT_DOMAIN_SEEDS, use_corpus: bool = True,
          out: str | Path | None = None, command: str = "",
          log: Callable[[str], None] = lambda _m: None) -> HeadFile:
    """Train, calibrate, measure and write ``<model_dir>/heads/paid_review.json`` (or ``out``)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    t0 = time.perf_counter()
    model_dir = Path(model_dir).expanduser()
    encoder = Encoder(model_dir)
    excl = (holdout_domain,) if holdout_domain else ()

    tr, source = head_data(train_seeds, exclude_domains=excl, use_corpus=use_corpus)
    va, _ = head_data(val_seeds, exclude_domains=excl, use_corpus=use_corpus, drop=set(tr.texts))
    te, _ = head_data(test_seeds, exclude_domains=excl, use_corpus=use_corpus, drop=set(tr.texts))
    hd = None
    if holdout_domain and source == "corpus":
        hd, _ = head_data(holdout_seeds, domains=(holdout_domain,), use_corpus=True, drop=set(tr.texts))
    log(f"texts ({source}): train {len(tr.texts)} ({sum(tr.y)} paid), validation {len(va.texts)}, "
        f"held-out seeds {len(te.texts)}" + (f", held-out domain {len(hd.texts)}" if hd else ""))

    def embed(d: HeadData, what: str) -> Any:
        t = time.perf_counter()
        x = np.asarray(encoder(d.texts), dtype=np.float64)
        log(f"embedded {what}: {len(d.texts)} texts in {time.perf_counter() - t:.0f} s")
        return x

    x_tr, x_va, x_te = embed(tr, "train"), embed(va, "validation"), embed(te, "held-out seeds")
    x_hd = embed(hd, "held-out domain") if hd else None
    mean = x_tr.mean(0)
    scale = x_tr.std(0)
    scale[scale < 1e-6] = 1.0
    z = lambda x: (x - mean) / scale
    y_tr, y_va = np.asarray(tr.y), np.asarray(va.y)

    best = None
    for c in C_GRID:
        clf = LogisticRegression(C=c, class_weight="balanced", max_iter=3000)
        clf.fit(z(x_tr), y_tr)
        auc = roc_auc_score(y_va, clf.decision_function(z(x_va)))
        log(f"C={c}: validation ROC-AUC {auc:.4f}")
        if best is None or auc > best[0] + 1e-4:
            best = (auc, c, clf)
    _, c_best, clf = best
    w, b = clf.coef_[0], float(clf.intercept_[0])
    # Platt calibration on validation, folded into (w, b): prob = sigmoid(a * (w.z + b) + c)
    platt = LogisticRegression(C=1e6, max_iter=1000)
    platt.fit(clf.decision_function(z(x_va)).reshape(-1, 1), y_va)
    a, c0 = float(platt.coef_[0][0]), float(platt.intercept_[0])
    w, b = w * a, b * a + c0
    head = HeadFile(NAME, [float(v) for v in w], float(b), [float(v) for v in mean],
                    [float(v) for v in scale], sha256_file(model_dir / "model.safetensors"))
    p_va = head.prob(x_va)
    threshold = _threshold_for_precision(y_va, p_va, MIN_PRECISION)
    report = {
        "train": metrics(tr.y, head.prob(x_tr), threshold),
        "validation": metrics(va.y, p_va, threshold, va.labels),
        "heldout_seeds": metrics(te.y, head.prob(x_te), threshold, te.labels),
    }
    if hd is not None:
        report["heldout_domain"] = metrics(hd.y, head.prob(x_hd), threshold, hd.labels)
    head.meta = {
        "threshold": round(threshold, 4),
        "description": ("P(text reads like a paid or templated review); logistic regression on the "
                        "attention-masked mean of the sentiment BERT's last hidden state"),
        "pooling": "attention-masked mean of last_hidden_state; trustscope.sentiment.textprep.encode_batch",
        "max_length": encoder.max_length,
        "training": {
            "data": f"campaign simulator ({source} texts), all attacks injected, one stream per seed",
            "train_seeds": list(train_seeds), "validation_seeds": list(val_seeds),
            "heldout_seeds": list(test_seeds), "excluded_domain": holdout_domain,
            "heldout_domain_seeds": list(holdout_seeds) if hd is not None else [],
            "C": c_best, "class_weight": "balanced", "platt": [round(a, 6), round(c0, 6)],
            "threshold_rule": f"lowest threshold with validation precision >= {MIN_PRECISION}",
            "sizes": {"train": len(tr.texts), "validation": len(va.texts), "heldout_seeds": len(te.texts),
                      "heldout_domain": len(hd.texts) if hd else 0},
        },
        "metrics": report,
        "command": command,
        "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    path = Path(out) if out else head_path(model_dir)
    head.save(path)
    log(f"wrote {path} in {head.meta['seconds']} s")
    return head


def format_metrics(head: HeadFile) -> str:
    rows = [f"{'split':<16}{'n':>7}{'paid':>6}{'ROC-AUC':>9}{'AP':>7}{'prec':>7}{'recall':>8}{'honestFP':>9}"]
    for k, m in head.meta.get("metrics", {}).items():
        f = lambda v, w, d=3: f"{v:>{w}.{d}f}" if isinstance(v, (int, float)) else f"{'-':>{w}}"
        rows.append(f"{k:<16}{m['n']:>7}{m['positives']:>6}{f(m['roc_auc'], 9, 4)}{f(m['average_precision'], 7)}"
                    f"{f(m['precision'], 7)}{f(m['recall'], 8)}{f(100 * m['honest_flagged'], 8, 2)}%")
        if m.get("recall_by_attack"):
            rows.append("    recall by attack: " + ", ".join(f"{a} {v:.2f}" for a, v in m["recall_by_attack"].items()))
    rows.append(f"threshold {head.threshold:.3f} (validation precision >= {MIN_PRECISION})")
    return "\n".join(rows)
