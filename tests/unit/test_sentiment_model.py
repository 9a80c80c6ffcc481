"""The shipped model: loads through plain transformers, is accurate on a hand-written fixture,
and the library API behaves (order, unscored texts, long texts, any BERT checkpoint)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trustscope.settings import DEFAULT_MODEL_DIR

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "sentiment_zh_fixture.jsonl"


def _fixture():
    rows = [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(rows) >= 40
    return rows


@pytest.fixture(scope="module")
def clf():
    from trustscope.sentiment import load_classifier

    return load_classifier(str(DEFAULT_MODEL_DIR), threads=2)


def test_shipped_files_and_size():
    for name in ("config.json", "model.safetensors", "tokenizer_config.json", "vocab.txt",
                 "calibration.json", "README.md"):
        assert (DEFAULT_MODEL_DIR / name).exists(), name
    assert (DEFAULT_MODEL_DIR / "model.safetensors").stat().st_size <= 40 * 1024 * 1024


def test_loads_with_plain_transformers_and_scores_fixture():
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(DEFAULT_MODEL_DIR), local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(str(DEFAULT_MODEL_DIR), local_files_only=True)
    assert model.config.id2label == {0: "negative", 1: "positive"}
    rows = _fixture()
    enc = tok([r["text"] for r in rows], padding=True, truncation=True, max_length=128, return_tensors="pt")
    with torch.inference_mode():
        pred = model(**enc).logits.argmax(-1).tolist()
    acc = sum(int(p == r["label"]) for p, r in zip(pred, rows)) / len(rows)
    assert acc >= 0.90, f"fixture accuracy {acc:.3f}"


def test_library_matches_fixture(clf):
    rows = _fixture()
    res = clf.classify([r["text"] for r in rows])
    assert len(res) == len(rows)
    wrong = [(r["text"], x.label) for r, x in zip(rows, res)
             if x.label != "neutral" and x.label != ("positive" if r["label"] else "negative")]
    decided = sum(1 for x in res if x.label != "neutral")
    assert len(wrong) <= 0.1 * len(rows), wrong
    assert decided >= 0.8 * len(rows)
    for x in res:
        assert -1.0 <= x.score <= 1.0 and 0.0 <= x.prob_positive <= 1.0 and x.scored
        assert abs(sum(x.probs.values()) - 1.0) < 1e-3
        assert set(x.to_dict()) == {"label", "score", "prob_positive", "probs", "scored", "reason", "heads"}


def test_order_preserved_and_unscored(clf):
    texts = ["", "Great app!", "这个平台太坑了，提现一直失败", "1234", "很好用，推荐", "   "]
    res = clf.classify(texts, batch_size=2)
    assert [r.scored for r in res] == [False, False, True, False, True, False]
    assert res[0].reason == "empty" and res[1].reason == "not_chinese"
    assert res[1].label == "neutral" and res[1].score == 0.0
    assert res[2].score < 0 < res[4].score
    # batching and length bucketing do not change results
    single = [clf.classify([t])[0] for t in texts]
    assert [round(r.prob_positive, 4) for r in res] == [round(r.prob_positive, 4) for r in single]


def test_very_long_text(clf):
    res = clf.classify(["服务很好。" * 5000 + "但是最后提现失败了，太差了"])[0]
    assert res.scored and -1 <= res.score <= 1
    with pytest.raises(TypeError):
        clf.classify([None])  # type: ignore[list-item]


def test_any_bert_checkpoint_with_generic_labels(tmp_path):
    """A user's checkpoint with LABEL_0/LABEL_1 and no calibration file loads and uses the default band."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from trustscope.sentiment import load_classifier

    tok = AutoTokenizer.from_pretrained(str(DEFAULT_MODEL_DIR), local_files_only=True)
    cfg = BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=64, num_labels=2)
    BertForSequenceClassification(cfg).save_pretrained(str(tmp_path))
    tok.save_pretrained(str(tmp_path))
    clf = load_classifier(str(tmp_path), max_length=512)
    assert clf.max_length == 64  # capped by the model's positions
    assert clf.backend == "torch"  # no model.onnx: auto falls back to torch
    assert clf.band.method.startswith("default")
    r = clf.classify(["还不错" * 100])[0]
    assert r.scored and set(r.probs) == {"LABEL_0", "LABEL_1"}


def test_missing_model_dir(tmp_path):
    from trustscope.sentiment import load_classifier

    with pytest.raises(FileNotFoundError):
        load_classifier(str(tmp_path / "nope"))
