"""Leave-one-family-out: the held-out family's rows never reach its combination; report shape."""

import numpy as np
import pytest

from trustscope.integrity import lofo


@pytest.fixture(scope="module")
def streams():
    kw = {"days": 30, "platforms": 5, "use_corpus": False}
    tune = [lofo.judge_stream(f, 1, "tune", lofo.TUNE_DOMAINS, **kw) for f in (None, "copy_paste", "unmarked")]
    return tune


def test_fit_excludes_the_held_out_family(streams):
    with_all = lofo.fit(streams, None)
    without = lofo.fit(streams, "unmarked")
    only_honest_and_copy = lofo.fit([s for s in streams if s.family != "unmarked"], None)
    assert np.allclose(without.weights, only_honest_and_copy.weights)
    assert not np.allclose(with_all.weights, without.weights)
    honest = np.vstack([s.x[np.array(s.labels) == "honest"] for s in streams])
    assert without.flags(honest).mean() <= lofo.TARGET_FPR + 0.002


def test_signals_are_the_combiner_features(streams):
    s = streams[1]
    assert s.x.shape == (len(s.labels), len(lofo.FEATURES))
    cp = np.array(s.labels) == "copy_paste"
    assert s.x[cp, lofo.FEATURES.index("near_duplicate")].mean() > 0.9
    hand = lofo.hand_combination()
    assert hand.flags(s.x[cp]).mean() > 0.9
