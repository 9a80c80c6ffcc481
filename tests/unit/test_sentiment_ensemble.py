"""The BERT + TF-IDF combination helpers (trustscope.sentiment.ensemble): numpy only, fast."""

import numpy as np
import pytest

from trustscope.sentiment.ensemble import (LogitStacker, fit_logit_weight, logit, pseudo_labels,
                                           sigmoid)

pytest.importorskip("sklearn")


def _members(n=4000, seed=0):
    """Two members that each see the label through independent noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    signal = 2.0 * y - 1.0
    za = 1.5 * signal + rng.normal(0, 1.5, n)
    zb = 6.0 * (signal + rng.normal(0, 1.0, n))  # informative but over-confident (large scale)
    return y, za, zb


def test_logit_sigmoid_round_trip_and_clipping():
    p = np.array([0.0, 0.1, 0.5, 0.9, 1.0])
    back = sigmoid(logit(p))
    assert np.all(np.isfinite(logit(p)))
    assert np.allclose(back[1:4], p[1:4])
    assert 0 < back[0] < 1e-5 and 1 - 1e-5 < back[-1] < 1


def test_stacker_beats_each_member_on_fresh_data():
    y, za, zb = _members(seed=1)
    st = LogitStacker().fit(np.c_[za, zb], y)
    yt, ta, tb = _members(seed=2)
    acc = lambda p: float(((p > 0.5) == yt).mean())
    combined = acc(st.predict(np.c_[ta, tb]))
    assert combined > acc(sigmoid(ta)) + 0.02
    assert combined > acc(sigmoid(tb)) + 0.02
    w = st.weights
    assert len(w) == 3 and w[0] > 0 and w[1] > 0
    assert w[1] < w[0]  # the over-confident member is scaled down


def test_fit_logit_weight_ignores_a_useless_member():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 3000)
    good = 3.0 * (2 * y - 1) + rng.normal(0, 1.0, 3000)
    noise = rng.normal(0, 3.0, 3000)
    assert fit_logit_weight(good, noise, y) >= 0.9
    assert fit_logit_weight(noise, good, y) <= 0.1


def test_pseudo_labels_keep_only_confident_texts():
    pl = pseudo_labels([0.95, 0.5, 0.05, 0.89, 0.1, 0.91], 0.9)
    assert pl.index.tolist() == [0, 2, 4, 5]
    assert pl.labels.tolist() == [1, 0, 0, 1]
    assert pseudo_labels([], 0.9).index.size == 0
