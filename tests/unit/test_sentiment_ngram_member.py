"""The stacked char n-gram member (ngram_member.py): scored in numpy exactly as scikit-learn fits it,
and combined into P(positive) by the real classifier when a model dir has an ``ensemble.json``."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from trustscope.settings import REPO_DIR

pytest.importorskip("sklearn")

DEFAULT_DIR = REPO_DIR / "models" / "trustscope-sentiment-zh"
POS = ["物流很快，质量很好，非常满意", "客服态度好，下次还来", "好吃不贵，分量足", "很好用，推荐购买"]
NEG = ["太差了，再也不买了", "送餐超时，饭都凉了", "质量很差，客服不理人", "难吃，退款也不给"]


def _pipe(n: int = 40):
    from trustscope.sentiment.baselines import tfidf_lr

    texts = [t + "！" * (i % 3) for i in range(n // 8) for t in POS + NEG]
    labels = [1 if j < len(POS) else 0 for _ in range(n // 8) for j in range(len(POS + NEG))]
    return tfidf_lr(texts, labels)


def test_exported_member_scores_like_scikit_learn(tmp_path):
    from trustscope.sentiment.ngram_member import export_member, read_member

    pipe = _pipe()
    export_member(pipe, tmp_path / "m.npz")
    member = read_member(tmp_path / "m.npz")
    texts = ["质量很好，物流也快", "超时了，饭凉了，差评", "", "   ", "ABC  好\t\t评", "完全没见过的字词"]
    assert np.allclose(member.logits(texts), pipe.decision_function(texts), atol=1e-5)
    assert member.logits(["好"])[0] > member.logits(["差"])[0]


def test_export_refuses_a_pipeline_it_cannot_reproduce(tmp_path):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from trustscope.sentiment.ngram_member import export_member

    pipe = make_pipeline(TfidfVectorizer(analyzer="word"), LogisticRegression()).fit(["aa bb", "cc dd"], [0, 1])
    with pytest.raises(ValueError, match="char n-gram"):
        export_member(pipe, tmp_path / "m.npz")


def test_classifier_combines_the_member_into_p_positive(tmp_path):
    """The shipped default model plus a member: P(positive) is the stack of both, pooled is not."""
    if not (DEFAULT_DIR / "model.onnx").exists():
        pytest.skip("no committed ONNX export of the default model")
    from trustscope.sentiment import load_classifier
    from trustscope.sentiment.ngram_member import export_member, load_ensemble, save_ensemble

    model_dir = tmp_path / "m"
    shutil.copytree(DEFAULT_DIR, model_dir, ignore=shutil.ignore_patterns("model.int8.onnx", "heads"))
    plain = load_classifier(str(model_dir), threads=1, backend="onnx", quantize=False)
    assert plain.ensemble is None and load_ensemble(model_dir) is None
    export_member(_pipe(), model_dir / "tfidf_char13.npz")
    save_ensemble(model_dir, "tfidf_char13.npz", 0.4, 0.8, -0.1)
    assert json.loads((model_dir / "ensemble.json").read_text())["weights"] == [0.4, 0.8]
    clf = load_classifier(str(model_dir), threads=1, backend="onnx", quantize=False)
    texts = ["质量很好，物流也快", "超时了，饭凉了，差评", "提现很慢，客服不回"]
    base = np.array([r.prob_positive for r in plain.classify(texts)])
    got = np.array([r.prob_positive for r in clf.classify(texts)])
    want = clf.ensemble.combine(texts, base)
    assert np.allclose(got, want, atol=2e-6)
    assert not np.allclose(got, base, atol=1e-3)
    assert np.array_equal(clf.pooled(texts), plain.pooled(texts))
    unscored = clf.classify(["", "hello world"])
    assert [r.scored for r in unscored] == [False, False]
    analysis = clf.analyze(texts)
    assert np.allclose([r.prob_positive for r in analysis.results], got, atol=2e-6)
