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


def test_the_fold_head_never_sees_the_held_out_family():
    """Per-fold paid-review heads (lofo_head): the held-out family's texts reach neither the head's
    fit nor its calibration; tuning streams get cross-fitted columns."""
    import hashlib

    from trustscope.integrity import lofo_head

    kw = {"days": 30, "platforms": 5, "use_corpus": False}
    tune = [lofo.judge_stream(f, seed, "tune", lofo.TUNE_DOMAINS, **kw)
            for seed in (1, 2) for f in (None, "copy_paste", "templated")]

    def embed(texts):  # a stand-in encoder: a few stable pseudo-random features per text
        return np.array([[b / 255 for b in hashlib.blake2b(t.encode(), digest_size=8).digest()] for t in texts])

    emb = lofo_head.TextEmbeddings(lofo.stream_texts(lofo.Collected((), tune, {}, {})), embed)
    looked: list[str] = []
    of = emb.of
    emb.of = lambda texts: (looked.extend(texts), of(texts))[1]
    full, per_seed = lofo_head.train_fold(emb, tune, "templated", lambda s: s.seed)
    held = {e.text for s in tune if s.family == "templated"
            for e, lab in zip(s.sim.events, s.labels) if lab == "templated"}
    assert held and not held & set(looked)
    assert set(per_seed) == {1, 2} and 0.5 <= full.threshold < 1.0
    col = per_seed[1].column(of([e.text for e in tune[0].sim.events]))
    assert col.shape == (len(tune[0].labels),) and ((col >= 0) & (col <= 1)).all()
