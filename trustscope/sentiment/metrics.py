"""Accuracy / F1 per domain, shared by the training report, the baselines and the model card."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence


def binary_metrics(y_true: Sequence[int], y_pred: Sequence[int]) -> dict:
    """Accuracy, F1 of each class and macro F1 (positive = 1)."""
    n = len(y_true)
    if n == 0:
        return {"n": 0, "accuracy": None, "f1_pos": None, "f1_neg": None, "f1_macro": None}
    tp = sum(1 for t, p in zip(y_true, y_pred) if t == 1 and p == 1)
    tn = sum(1 for t, p in zip(y_true, y_pred) if t == 0 and p == 0)
    fp = sum(1 for t, p in zip(y_true, y_pred) if t == 0 and p == 1)
    fn = sum(1 for t, p in zip(y_true, y_pred) if t == 1 and p == 0)

    def f1(a: int, b: int, c: int) -> float:  # a = true hits, b/c = the two kinds of misses
        return 2 * a / (2 * a + b + c) if a else 0.0

    f1p, f1n = f1(tp, fp, fn), f1(tn, fn, fp)
    return {"n": n, "accuracy": (tp + tn) / n, "f1_pos": f1p, "f1_neg": f1n,
            "f1_macro": (f1p + f1n) / 2}


def per_domain(domains: Sequence[str], y_true: Sequence[int], y_pred: Sequence[int]) -> dict:
    """``{"all": metrics, "<domain>": metrics, ...}``."""
    groups: dict[str, tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
    for d, t, p in zip(domains, y_true, y_pred):
        groups[d][0].append(t)
        groups[d][1].append(p)
    out = {"all": binary_metrics(y_true, y_pred)}
    for d in sorted(groups):
        out[d] = binary_metrics(*groups[d])
    return out
