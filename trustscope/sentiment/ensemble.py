"""Combining a fine-tuned BERT with char TF-IDF + LR, and pseudo-labels for a new domain.

Why: on a domain neither saw, the BERT ranks reviews better than character n-grams, while n-grams
fitted on all the labelled data know words the BERT's fine-tuning never showed it; the two err on
different reviews (docs/benchmarks.md, "Sentiment, third session"). The combination is fitted on
in-domain validation reviews that neither member trained on, so it never sees the texts it is
judged on. Pure numpy + scikit-learn: no torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit
from scipy.special import logit as _logit

_EPS = 1e-6


def logit(p) -> np.ndarray:
    """log(p / (1 - p)), clipped so 0 and 1 stay finite."""
    return _logit(np.clip(np.asarray(p, dtype=np.float64), _EPS, 1 - _EPS))


def sigmoid(z) -> np.ndarray:
    return expit(np.asarray(z, dtype=np.float64))


class LogitStacker:
    """Logistic regression on the members' logits (one column each): a calibrated combined P(positive).

    A stacker rather than a plain average because the members' logit scales differ (LR on TF-IDF
    is over-confident); the fitted weights rescale each member before they are added.
    """

    def __init__(self, C: float = 1.0):
        from sklearn.linear_model import LogisticRegression

        self._lr = LogisticRegression(C=C)

    def fit(self, member_logits: np.ndarray, labels) -> "LogitStacker":
        self._lr.fit(np.asarray(member_logits, dtype=np.float64), np.asarray(labels))
        return self

    def predict(self, member_logits: np.ndarray) -> np.ndarray:
        return self._lr.predict_proba(np.asarray(member_logits, dtype=np.float64))[:, 1]

    @property
    def weights(self) -> list[float]:
        """The members' weights, then the intercept."""
        return [float(w) for w in self._lr.coef_[0]] + [float(self._lr.intercept_[0])]


def fit_logit_weight(za, zb, labels, grid: int = 21) -> float:
    """w in [0, 1] of ``w * za + (1 - w) * zb`` with the lowest log-loss on ``labels`` (a grid)."""
    y = np.asarray(labels, dtype=np.float64)
    za, zb = np.asarray(za, dtype=np.float64), np.asarray(zb, dtype=np.float64)
    best_loss, best_w = np.inf, 0.5
    for w in np.linspace(0.0, 1.0, grid):
        p = np.clip(sigmoid(w * za + (1 - w) * zb), 1e-9, 1 - 1e-9)
        loss = float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
        if loss < best_loss - 1e-12:
            best_loss, best_w = loss, float(w)
    return best_w


@dataclass(frozen=True)
class PseudoLabels:
    """The confident part of a new domain's unlabelled texts and the labels the ensemble gives them."""

    index: np.ndarray  # positions in the unlabelled texts
    labels: np.ndarray  # 0 / 1


def pseudo_labels(p_pos, min_confidence: float = 0.9) -> PseudoLabels:
    """Texts whose (prior-adjusted) P(positive) is at least ``min_confidence`` or at most 1 - it."""
    p = np.asarray(p_pos, dtype=np.float64)
    keep = np.flatnonzero(np.maximum(p, 1 - p) >= min_confidence)
    return PseudoLabels(index=keep, labels=(p[keep] > 0.5).astype(np.int64))
