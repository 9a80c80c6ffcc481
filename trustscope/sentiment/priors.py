"""Label-prior adjustment for a new source from its unlabelled texts (Saerens, Latinne & Decaestecker 2002).

Why: on a domain it never saw, the fine-tuned model ranks reviews well (ROC AUC) but its 0.5
threshold drifts, because the share of positive reviews differs from the training data's and
the posteriors carry the training prior. EM on the model's own posteriors over a source's
unlabelled texts estimates that source's prior; Bayes' rule then re-weights each posterior.
Where the prior has not moved, the estimate stays near the training prior and the adjustment is
close to the identity.
"""

from __future__ import annotations

from collections.abc import Sequence

_EPS = 1e-6


def adjust_posteriors(p_pos, train_prior: float, new_prior: float):
    """P(positive | x) under ``new_prior`` from posteriors computed under ``train_prior`` (numpy)."""
    import numpy as np

    p = np.clip(np.asarray(p_pos, dtype=np.float64), _EPS, 1 - _EPS)
    a = (new_prior / train_prior) * p
    b = ((1 - new_prior) / (1 - train_prior)) * (1 - p)
    return a / (a + b)


def em_prior(p_pos: Sequence[float], train_prior: float, max_iter: int = 100, tol: float = 1e-6,
             bounds: tuple[float, float] = (0.02, 0.98)) -> float:
    """The positive-class prior of the texts behind ``p_pos``, by EM (Saerens et al. 2002, eq. 2.4).

    Clipped to ``bounds`` so a handful of texts cannot push the estimate to 0 or 1. Returns the
    training prior for an empty input.
    """
    import numpy as np

    p = np.asarray(p_pos, dtype=np.float64)
    if p.size == 0:
        return float(train_prior)
    prior = float(train_prior)
    for _ in range(max_iter):
        new = float(np.clip(adjust_posteriors(p, train_prior, prior).mean(), *bounds))
        if abs(new - prior) < tol:
            return new
        prior = new
    return prior


class SourcePrior:
    """Rolling per-source prior, for a service that sees one source's texts batch after batch.

    Keeps the last ``window`` posteriors (under the training prior) and re-estimates the prior by
    EM once at least ``min_texts`` are there; below that, the training prior (no adjustment).
    Storage-free; ``trustscope.sentiment.prior_store`` keeps it in Redis for the service.
    """

    def __init__(self, train_prior: float, window: int = 2000, min_texts: int = 200):
        self.train_prior, self.window, self.min_texts = train_prior, window, min_texts
        self.posteriors: list[float] = []
        self.prior = train_prior

    def update(self, p_pos: Sequence[float]) -> float:
        self.posteriors = (self.posteriors + [float(x) for x in p_pos])[-self.window:]
        if len(self.posteriors) >= self.min_texts:
            self.prior = em_prior(self.posteriors, self.train_prior)
        return self.prior

    def adjust(self, p_pos):
        return adjust_posteriors(p_pos, self.train_prior, self.prior)
