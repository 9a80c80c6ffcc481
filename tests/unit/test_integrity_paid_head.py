"""Paid-review head: the shipped file loads and gives probabilities, the signal never convicts alone,
a missing head is an absent signal, and the stage reads ``sentiment.heads``."""

import math
import random

import pytest

from trustscope.integrity import IntegrityEngine, ReviewEvent, combiner
from trustscope.integrity.detectors import Signal, paid_text
from trustscope.integrity.paid_head import HeadFile, head_path, sha256_file
from trustscope.settings import REPO_DIR

MODEL_DIR = REPO_DIR / "models" / "trustscope-sentiment-zh"
HEAD = head_path(MODEL_DIR)
T0 = 1_735_689_600.0


@pytest.mark.skipif(not HEAD.exists(), reason="no shipped head (models/trustscope-sentiment-zh/heads/)")
def test_shipped_head_file_loads_and_gives_probabilities():
    import numpy as np

    head = HeadFile.load(HEAD)
    assert head.name == "paid_review" and head.hidden > 0
    assert len(head.mean) == len(head.scale) == head.hidden
    assert 0.5 <= head.threshold < 1.0
    assert (MODEL_DIR / "model.safetensors").exists() and head.base_model_sha256 == sha256_file(
        MODEL_DIR / "model.safetensors"), "head trained on another checkpoint: re-run train-head"
    x = np.random.default_rng(0).normal(0, 3, size=(64, head.hidden))
    p = head.prob(x)
    assert p.shape == (64,) and ((p >= 0) & (p <= 1)).all()
    # the contract: sigmoid(w . ((x - mean) / scale) + b)
    z = sum(w * (x[0][i] - head.mean[i]) / head.scale[i] for i, w in enumerate(head.weights)) + head.bias
    assert p[0] == pytest.approx(1 / (1 + math.exp(-z)), rel=1e-9)
    for split in ("validation", "heldout_seeds"):
        assert head.meta["metrics"][split]["roc_auc"] > 0.8


def test_head_file_roundtrip_and_contract(tmp_path):
    import numpy as np

    h = HeadFile("paid_review", [1.0, -2.0], 0.5, [0.0, 1.0], [2.0, 1.0], "ab" * 32, {"threshold": 0.7})
    h.save(tmp_path / "heads" / "paid_review.json")
    g = HeadFile.load(tmp_path / "heads" / "paid_review.json")
    assert g.threshold == 0.7 and g.weights == [1.0, -2.0]
    assert g.prob(np.array([[2.0, 1.0]]))[0] == pytest.approx(1 / (1 + math.exp(-(1.0 + 0.5))))
    nulls = HeadFile("paid_review", [1.0], 0.0, None, None, "x", {})
    assert nulls.prob(np.array([[0.0]]))[0] == 0.5 and nulls.threshold == 0.5


def test_paid_text_never_flags_alone_nor_with_one_weak_signal():
    assert combiner.combine([Signal("paid_text", 1.0, "paid")])[0] == "verified"
    for weak in ("new_account", "burst", "rapid_posting", "rating_text_mismatch"):
        assert combiner.combine([Signal("paid_text", 1.0, "p"), Signal(weak, 1.0, "w")])[0] == "verified"
    # ... but it adds up with other evidence
    sigs = [Signal("paid_text", 1.0, "p"), Signal("new_account", 1.0, "n"), Signal("near_duplicate", 0.25, "d")]
    assert combiner.combine(sigs)[0] == "suspicious"


def test_a_review_scoring_one_on_the_head_with_no_other_evidence_stays_verified():
    engine = IntegrityEngine.in_memory(paid=lambda texts: [1.0] * len(texts))
    ev = ReviewEvent(id="r1", platform="p1", author_id="old", rating=5, text="必须来夸一下，品质一流，强烈推荐，五星好评！",
                     created_at=T0, author_created_at=T0 - 400 * 86_400, author_review_count=20)
    (u,) = engine.process([ev])
    assert u.verdict == "verified" and u.signals["paid_text"] == 1.0
    assert any(r.startswith("paid_text:") for r in u.reasons)


def test_missing_head_is_an_absent_signal():
    assert paid_text.score(None).score == 0.0
    assert paid_text.score(0.3).score == 0.0 and paid_text.score(0.99).score == 1.0
    engine = IntegrityEngine.in_memory()
    ev = ReviewEvent(id="r1", platform="p1", author_id="a", rating=5, text="还不错", created_at=T0)
    (u,) = engine.process([ev])
    assert "paid_text" not in u.signals and u.verdict == "verified"


def test_classifier_heads_feed_the_engine():
    class Result:
        def __init__(self, p):
            self.prob_positive, self.heads = 0.9, {"paid_review": p}

    engine = IntegrityEngine.in_memory(sentiment=lambda texts: [Result(0.97) for _ in texts])
    ev = ReviewEvent(id="r1", platform="p1", author_id="a", rating=5, text="好评返现", created_at=T0)
    (u,) = engine.process([ev])
    assert u.signals["paid_text"] == pytest.approx(paid_text.score(0.97).score, abs=1e-3)


def test_stage_reads_sentiment_heads():
    from services.integrity.stage import _paid_prob

    class S:
        scored, heads = True, {"paid_review": 0.8}

    class D:
        sentiment = S()

    assert _paid_prob(D()) == 0.8
    D.sentiment = None
    assert _paid_prob(D()) is None


def test_campaign_texts_come_from_the_honest_pool_with_paid_marks():
    from trustscope.integrity import textpool
    from trustscope.integrity.simulator import ATTACKS, SimConfig, simulate

    sim = simulate(SimConfig(seed=3, days=30, platforms=10, use_corpus=False, attacks=ATTACKS))
    marks = textpool.PAID_CTAS + textpool.NEG_CTAS
    for a in ("copy_paste", "templated", "competitor"):
        texts = [e.text for e in sim.events if sim.labels[e.id] == a]
        assert texts and all(any(m in t for m in marks) for t in texts)
    t = textpool.fill_slots(textpool.paid_script("质量很好，物流也快", random.Random(1)), random.Random(2))
    assert "{" not in t and "质量很好" in t


@pytest.mark.skipif(not HEAD.exists() or not (MODEL_DIR / "config.json").exists(), reason="no model/head")
def test_training_side_embedding_matches_the_classifier_pooled():
    pytest.importorskip("torch")
    import numpy as np

    from trustscope.integrity.paid_head import Encoder, PaidHead
    from trustscope.sentiment import load_classifier

    clf = load_classifier(str(MODEL_DIR), threads=1)
    texts = ["很好用，强烈推荐", "太坑了，提现一直不到账，客服也不回复" * 20, "还行", "hello"]
    train_side = Encoder(MODEL_DIR)(texts)  # AutoModel + torch, as train-head computes it
    assert np.allclose(train_side, np.asarray(clf.pooled(texts)), atol=1e-3)
    mine = PaidHead(HeadFile.load(HEAD), Encoder(MODEL_DIR))(texts[:3])
    served = [r.heads.get("paid_review") for r in clf.classify(texts[:3])]
    if all(v is not None for v in served):  # the classifier applies the shipped head itself
        assert np.allclose(mine, served, atol=2e-3)
