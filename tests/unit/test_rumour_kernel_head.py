"""Model v5's post head: the RBF-kernel SVM on the post embedding (``model.KernelHead``), its numpy
export giving sklearn's decision values, its save/load, and v4.1 directories (a linear post head)
still loading and scoring as they did."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("sklearn")

from trustscope.rumour import training as T  # noqa: E402
from trustscope.rumour.encoder import encode_events  # noqa: E402
from trustscope.rumour.model import EmbeddingHead, KernelHead, RumourModel, load_head  # noqa: E402

from tests.unit.test_rumour_model import HORIZONS, FakeEmbedder, embedded_dataset  # noqa: E402


def ring(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two classes no linear head can split: inside / outside a sphere, with offsets and scales per
    column (so the standardisation matters)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6))
    y = (np.linalg.norm(x[:, :3], axis=1) > 1.5).astype(np.int64)
    return (x * np.array([1, 5, 0.2, 1, 3, 1]) + np.array([10, -3, 0, 1, 0, 2])).astype(np.float32), y


def test_kernel_head_logit_is_sklearn_s_decision_value_signed_for_rumour():
    from sklearn.svm import SVC

    x, y = ring()
    head = T._fit_kernel_head(x, y)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    svc = SVC(C=T.SVM_C, kernel="rbf", gamma="scale").fit((x - mean) / scale, y)
    probe, _ = ring(300, seed=1)
    np.testing.assert_allclose(head.logit(probe), svc.decision_function((probe - mean) / scale), atol=1e-6)
    # positive means rumour (class 1), and it separates what a linear head cannot
    assert ((head.logit(x) > 0) == (y == 1)).mean() >= 0.9
    linear = T._fit_head(x, y)
    assert ((linear.logit(x) > 0) == (y == 1)).mean() < 0.8
    assert head.support.dtype == np.float32 and head.support.shape[0] == svc.support_.size < len(y)


def test_kernel_head_scores_in_bounded_blocks_and_round_trips_through_arrays():
    x, y = ring()
    head = T._fit_kernel_head(x, y)
    probe, _ = ring(1100, seed=2)
    whole = head.logit(probe, batch=10_000)
    np.testing.assert_allclose(head.logit(probe, batch=64), whole, atol=1e-9)
    again = load_head("enc.post", head.arrays("enc.post"))
    assert isinstance(again, KernelHead)
    np.testing.assert_allclose(again.logit(probe), whole, atol=1e-9)
    linear = T._fit_head(x, y)
    assert isinstance(load_head("enc.post", linear.arrays("enc.post")), EmbeddingHead)
    bad = head.arrays("enc.post")
    bad["enc.post.dual"] = bad["enc.post.dual"][:-1]
    with pytest.raises(ValueError, match="disagree"):
        load_head("enc.post", bad)


def test_post_head_option_is_checked():
    assert T.PostBandParts().post_head == "rbf-svm" == T.POST_PARTS.post_head
    with pytest.raises(ValueError, match="post_head"):
        T.PostBandParts(post_head="mlp")


@pytest.fixture(scope="module")
def data():
    return embedded_dataset(seed=2, comments=0)


@pytest.mark.parametrize("kind", T.POST_HEADS)
def test_a_saved_model_scores_the_post_alone_as_fitted_with_either_head(data, kind, tmp_path):
    ds, events = data
    parts = T.PostBandParts(post_head=kind)
    stack = T.fit_stack(ds, np.arange(len(events)), HORIZONS, inner_folds=3, parts=parts)
    stack.export(ds, T.post_band_meta(parts)).save(tmp_path)
    model = RumourModel.load(tmp_path)
    assert isinstance(model.encoder.post, KernelHead if kind == "rbf-svm" else EmbeddingHead)
    assert json.loads((tmp_path / "model.json").read_text())["version"] == ("5" if kind == "rbf-svm" else "4.1")
    idx = np.arange(len(events))
    alone = [e.truncated(0.0) for e in events]
    enc = encode_events(FakeEmbedder(), alone, comments=0)
    want = stack.predict(ds, T.AugRows(idx, [0.0] * len(idx)))
    np.testing.assert_allclose(model.predict_proba(alone, enc), want, atol=1e-6)
    # the post head the band's stackers learnt from is the one exported (not the linear head
    # ``fit_encoder_heads`` fits for the other bands' rows)
    band = T.fit_post_band(ds, idx, inner_folds=3, parts=parts)
    np.testing.assert_allclose(model.encoder.post.logit(ds.embeddings.post), band.head.logit(ds.embeddings.post),
                               atol=1e-9)


def test_the_kernel_head_changes_only_the_post_only_band(data):
    ds, events = data
    idx = np.arange(len(events))
    svm = T.fit_stack(ds, idx, HORIZONS, inner_folds=3)
    lr = T.fit_stack(ds, idx, HORIZONS, inner_folds=3, parts=T.PostBandParts(post_head="lr"))
    for h in (1.0, None):
        rows = T.AugRows(idx, [h] * len(idx))
        np.testing.assert_array_equal(svm.predict(ds, rows), lr.predict(ds, rows))
    at0 = T.AugRows(idx, [0.0] * len(idx))
    assert not np.allclose(svm.predict(ds, at0), lr.predict(ds, at0))
