"""Distillation and the fine-tuning additions for the pretrained base (layer decay, label smoothing)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from trustscope.settings import DEFAULT_MODEL_DIR  # noqa: E402


def _tiny_student(path):
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    tok = AutoTokenizer.from_pretrained(str(DEFAULT_MODEL_DIR), local_files_only=True)
    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(
        vocab_size=len(tok), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=64, num_labels=2,
        id2label={0: "negative", 1: "positive"}, label2id={"negative": 0, "positive": 1}))
    model.save_pretrained(str(path))
    tok.save_pretrained(str(path))


def test_student_learns_the_teachers_probabilities(tmp_path):
    from trustscope.sentiment.distill import DistillConfig, distill, student_probs

    _tiny_student(tmp_path / "init")
    texts = ["很好", "太差", "满意", "失望"] * 16
    soft = [0.95, 0.05, 0.9, 0.1] * 16  # the "teacher"
    model, tok, info = distill(tmp_path / "init", texts, soft, DistillConfig(epochs=30, batch_size=16, lr=3e-3,
                                                                            log_every=10**6),
                               tmp_path / "out", log=lambda _m: None)
    p = student_probs(model, tok, ["很好", "太差", "满意", "失望"], 32)
    assert p[0] > 0.7 and p[2] > 0.7 and p[1] < 0.3 and p[3] < 0.3
    assert info["steps"] == 120 and (tmp_path / "out" / "model.safetensors").exists()


def test_layer_decay_gives_lower_layers_smaller_rates():
    from transformers import BertConfig, BertForSequenceClassification

    from trustscope.sentiment.finetune import param_groups

    model = BertForSequenceClassification(BertConfig(
        vocab_size=50, hidden_size=16, num_hidden_layers=3, num_attention_heads=2, intermediate_size=32,
        max_position_embeddings=32, num_labels=2))
    groups = param_groups(model, 1e-3, 0.5, 0.01)
    assert [g["lr"] for g in groups] == pytest.approx([1e-3, 5e-4, 2.5e-4, 1.25e-4, 6.25e-5])
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    head = {id(p) for n, p in model.named_parameters() if n.startswith(("classifier", "bert.pooler"))}
    assert {id(p) for p in groups[0]["params"]} == head
    emb = {id(p) for n, p in model.named_parameters() if ".embeddings." in n}
    assert {id(p) for p in groups[-1]["params"]} == emb
    assert len(param_groups(model, 1e-3, 1.0, 0.01)) == 5  # no decay: same rate everywhere
    assert {g["lr"] for g in param_groups(model, 1e-3, 1.0, 0.01)} == {1e-3}


@pytest.mark.slow
def test_train_base_cli_holds_out_two_domains_and_reports_both(tmp_path, monkeypatch):
    """`trustscope model train-base` on a tiny base and corpus: both held-out domains reported
    with accuracy, prior-adjusted accuracy and ROC AUC, TF-IDF + LR beside, prior.json written."""
    import gzip
    import json
    import random

    from typer.testing import CliRunner

    from trustscope.cli.main import app

    rng = random.Random(0)
    words = {1: ["很好", "满意", "推荐", "好评"], 0: ["太差", "失望", "差评", "垃圾"]}
    rows = [{"id": f"r{i}", "domain": ["food_delivery", "shopping/水果", "shopping/a", "shopping/b"][i // 2 % 4],
             "label": i % 2, "text": rng.choice(words[i % 2]) + rng.choice(["", "！", "。"])} for i in range(400)]
    (tmp_path / "data").mkdir()
    with gzip.open(tmp_path / "data" / "sentiment_reviews.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    monkeypatch.setenv("TS_SHARED_DATA", str(tmp_path / "data"))
    _tiny_student(tmp_path / "base")
    work = tmp_path / "work"
    res = CliRunner().invoke(app, ["model", "train-base", "--base-dir", str(tmp_path / "base"), "--work-dir",
                                   str(work), "--train-size", "100", "--test-size", "50", "--eval-every", "2",
                                   "--lr", "1e-3", "--threads", "1"])
    assert res.exit_code == 0, res.output
    m = json.loads((work / "metrics.json").read_text())
    assert set(m["bert"]) == set(m["tfidf_lr"]) == {"food_delivery", "shopping/水果"}
    for d in m["bert"].values():
        assert d["n"] == 50 and {"accuracy", "accuracy_prior_adjusted", "roc_auc", "estimated_prior"} <= set(d)
    assert all(h["food_delivery"]["roc_auc"] is not None for h in m["finetune"]["history"])
    assert json.loads((work / "model" / "prior.json").read_text())["train_prior"] == pytest.approx(
        m["train_prior"], abs=1e-6)


def test_adaptive_threads_drop_to_one_under_others_load_and_come_back_when_quiet():
    from trustscope.sentiment.threads import AdaptiveThreads

    t = AdaptiveThreads(max_threads=2, current=2)
    assert t.decide(2.3) == 2  # only this run's own two threads
    assert t.decide(6.0) == 1  # four more runnable threads elsewhere
    t.current = 1
    assert t.decide(2.0) == 1  # others at 1.0: between the thresholds, keep one
    assert t.decide(1.5) == 2  # others at 0.5: quiet again


def test_distillation_targets_mix_gold_where_there_is_one_and_skip_texts_with_neither():
    import math

    from trustscope.sentiment.distill import distillation_targets

    texts = ["a", "b", "c", "d"]
    soft = [0.8, 0.3, math.nan, math.nan]
    t, p = distillation_targets(texts, soft, {"a": 0, "c": 1}, gold_weight=0.5)
    assert t == ["a", "b", "c"]
    assert p == pytest.approx([0.4, 0.3, 0.95])


def test_distillation_texts_never_include_test_texts_and_can_leave_out_validation():
    from trustscope.sentiment.data import Review, random_split
    from trustscope.sentiment.distill import distillation_texts

    reviews = [Review(str(i), "d", i % 2, f"text {i}") for i in range(200)]
    sp = random_split(reviews, seed=13)
    without_val = set(distillation_texts(reviews, n_texts=0, include_val=False))
    assert without_val == {r.text for r in sp.train}
    assert set(distillation_texts(reviews, n_texts=0)) == {r.text for r in sp.train + sp.val}


def test_teacher_labels_are_cached_and_resumed(tmp_path):
    import numpy as np

    from trustscope.sentiment.distill import label_with_teacher

    _tiny_student(tmp_path / "teacher")
    texts = [f"很好{i}" for i in range(7)]
    cache = tmp_path / "soft.npy"
    partial = np.full(7, np.nan, dtype=np.float32)
    partial[:3] = 0.25  # labelled by an earlier, interrupted run
    np.save(cache, partial)
    soft = label_with_teacher(tmp_path / "teacher", texts, 32, cache, log=lambda _m: None, chunk=2)
    assert not np.isnan(soft).any() and (soft[:3] == 0.25).all() and (soft[3:] != 0.25).all()
    assert (np.load(cache) == soft).all()
