"""The auxiliary-heads contract: ``pooled()`` and ``<model_dir>/heads/<name>.json`` files."""

from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pytest

from trustscope.settings import DEFAULT_MODEL_DIR

TEXTS = ["这个平台提现很快，客服也好", "骗子平台，钱取不出来", "", "hello there", "一般般"]


@pytest.fixture(scope="module")
def model_copy(tmp_path_factory):
    """The shipped model copied to a temp dir (heads are written beside it)."""
    dst = tmp_path_factory.mktemp("model") / "m"
    shutil.copytree(DEFAULT_MODEL_DIR, dst, ignore=shutil.ignore_patterns("heads"))
    return dst


def _write_head(model_dir, name, sha, hidden=192, seed=0):
    rng = np.random.default_rng(seed)
    head = {"name": name, "weights": rng.normal(size=hidden).tolist(), "bias": 0.1,
            "mean": rng.normal(size=hidden).tolist(), "scale": (rng.random(hidden) + 0.5).tolist(),
            "base_model_sha256": sha, "trained_on": "test"}
    (model_dir / "heads").mkdir(exist_ok=True)
    (model_dir / "heads" / f"{name}.json").write_text(json.dumps(head))
    return head


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_heads_with_right_sha_give_probs_wrong_sha_skipped(model_copy, backend, caplog):
    from trustscope.sentiment import load_classifier
    from trustscope.sentiment.heads import sha256_file

    sha = sha256_file(model_copy / "model.safetensors")
    good = _write_head(model_copy, "paid_review", sha)
    _write_head(model_copy, "stale", "0" * 64, seed=1)
    with caplog.at_level(logging.WARNING):
        clf = load_classifier(str(model_copy), threads=1, backend=backend)
    assert [h.name for h in clf.heads] == ["paid_review"]
    assert any("stale" in r.getMessage() for r in caplog.records)
    res = clf.classify(TEXTS)
    for r in res[:2] + res[4:]:
        assert set(r.heads) == {"paid_review"}
        assert 0.0 <= r.heads["paid_review"] <= 1.0
    assert res[2].heads == {} and res[3].heads == {}  # unscored texts carry no heads
    x = clf.pooled(TEXTS[:1]).astype(np.float64)[0]
    z = np.dot(good["weights"], (x - np.array(good["mean"])) / np.array(good["scale"])) + good["bias"]
    assert res[0].heads["paid_review"] == pytest.approx(1 / (1 + np.exp(-z)), abs=1e-5)


def test_no_heads_dir_means_empty_heads(tmp_path):
    from trustscope.sentiment import load_classifier

    bare = tmp_path / "bare"
    shutil.copytree(DEFAULT_MODEL_DIR, bare, ignore=shutil.ignore_patterns("heads"))
    clf = load_classifier(str(bare), threads=1)
    assert all(r.heads == {} for r in clf.classify(TEXTS))


def test_pooled_shape_and_backends_agree():
    from trustscope.sentiment import load_classifier

    onnx = load_classifier(str(DEFAULT_MODEL_DIR), threads=1, backend="onnx")
    torch_ = load_classifier(str(DEFAULT_MODEL_DIR), threads=1, backend="torch")
    texts = TEXTS + ["很好" * 400]  # long text: head+tail truncation on both
    a, b = onnx.pooled(texts), torch_.pooled(texts)
    assert a.shape == (len(texts), 192) and a.dtype == np.float32
    np.testing.assert_allclose(a, b, atol=1e-4)
    assert onnx.pooled([]).shape == (0, 192)


def test_sentiment_stage_writes_heads_and_omits_empty(model_copy):
    """The service stores result.heads in document.sentiment.heads; an empty mapping is left out of
    the JSON (the documents index mapping is strict)."""
    from services.sentiment.stage import SentimentStage
    from trustscope.bus import Message
    from trustscope.schemas import Document, DocumentIn
    from trustscope.sentiment import load_classifier
    from trustscope.sentiment.heads import sha256_file

    _write_head(model_copy, "paid_review", sha256_file(model_copy / "model.safetensors"))
    docs = [DocumentIn(kind="review", source="test", source_id=str(i), text=t, rating=5,
                       created_at="2026-11-28T00:00:00Z").to_document([]) for i, t in
            enumerate(["提现很快，客服也好", "Great app, love it"])]
    msgs = [Message(stream="ingest", id=f"{i}-0", fields={"doc": d.to_json()}) for i, d in enumerate(docs)]
    stage = SentimentStage(load_classifier(str(model_copy), threads=1))
    out = [json.loads(o["doc"]) for o in stage.process(msgs)]
    assert 0.0 <= out[0]["sentiment"]["heads"]["paid_review"] <= 1.0
    assert "heads" not in out[1]["sentiment"]  # unscored: no heads, key omitted
    back = Document.model_validate_json(json.dumps(out[1]))
    assert back.sentiment.heads == {}


def test_analyze_gives_sentiment_heads_and_pooled_from_one_pass(model_copy):
    from trustscope.sentiment import load_classifier
    from trustscope.sentiment.heads import sha256_file

    _write_head(model_copy, "paid_review", sha256_file(model_copy / "model.safetensors"))
    _write_head(model_copy, "rumour_text", sha256_file(model_copy / "model.safetensors"), seed=3)
    clf = load_classifier(str(model_copy), threads=1, backend="onnx")
    calls = []
    forward = clf.runner.forward
    clf.runner.forward = lambda ids, mask: calls.append(len(ids)) or forward(ids, mask)
    got = clf.analyze(TEXTS)
    assert sum(calls) == len(TEXTS)  # every text went through the encoder exactly once
    assert got.results == clf.classify(TEXTS)
    assert set(got.results[0].heads) == {"paid_review", "rumour_text"}
    np.testing.assert_allclose(got.pooled, clf.pooled(TEXTS), atol=1e-6)
    assert clf.analyze([]).pooled.shape == (0, clf.hidden_size)
