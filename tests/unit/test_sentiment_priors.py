"""Label-prior adjustment (Saerens et al. 2002) for a source whose share of positive texts moved."""

from __future__ import annotations

import numpy as np

from trustscope.sentiment.priors import SourcePrior, adjust_posteriors, em_prior


def _calibrated_posteriors(n: int, prior: float, train_prior: float, rng) -> tuple[np.ndarray, np.ndarray]:
    """Labels at ``prior`` and posteriors a calibrated model trained at ``train_prior`` would give."""
    y = (rng.random(n) < prior).astype(int)
    x = rng.normal(np.where(y == 1, 1.0, -1.0), 1.0)
    logit = 2.0 * x + np.log(train_prior / (1 - train_prior))  # 2x = log N(x;1,1)/N(x;-1,1)
    return y, 1 / (1 + np.exp(-logit))


def test_em_recovers_a_shifted_prior_and_adjustment_raises_accuracy():
    rng = np.random.default_rng(0)
    y, p = _calibrated_posteriors(20000, prior=0.8, train_prior=0.5, rng=rng)
    est = em_prior(p, 0.5)
    assert abs(est - 0.8) < 0.02
    before = ((p > 0.5) == y).mean()
    after = ((adjust_posteriors(p, 0.5, est) > 0.5) == y).mean()
    assert after > before + 0.01


def test_without_shift_the_adjustment_is_nearly_the_identity():
    rng = np.random.default_rng(1)
    y, p = _calibrated_posteriors(20000, prior=0.5, train_prior=0.5, rng=rng)
    est = em_prior(p, 0.5)
    assert abs(est - 0.5) < 0.02
    assert np.abs(adjust_posteriors(p, 0.5, est) - p).max() < 0.02


def test_estimate_is_bounded_and_empty_input_keeps_the_training_prior():
    assert em_prior([], 0.6) == 0.6
    assert em_prior([0.9999] * 50, 0.5) <= 0.98


def test_source_prior_waits_for_enough_texts_then_follows_the_window():
    sp = SourcePrior(train_prior=0.5, window=300, min_texts=100)
    assert sp.update([0.9] * 50) == 0.5  # too few texts: no adjustment
    assert sp.update([0.9] * 60) > 0.9
    assert len(sp.posteriors) == 110
    sp.update([0.1] * 300)  # the window forgets the old posteriors
    assert sp.prior < 0.1
    assert sp.adjust(np.array([0.5]))[0] < 0.5


def test_roc_auc_and_score_probs_on_known_cases():
    from trustscope.sentiment.transfer import roc_auc, score_probs

    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
    assert roc_auc([0, 1, 1], [0.5, 0.5, 0.9]) == 0.75  # a tie counts half
    assert roc_auc([1, 1], [0.2, 0.3]) is None
    s = score_probs([0, 1, 1, 1], [0.2, 0.45, 0.7, 0.9], train_prior=0.5)
    assert s["accuracy"] == 0.75 and s["n"] == 4 and s["estimated_prior"] > 0.5
