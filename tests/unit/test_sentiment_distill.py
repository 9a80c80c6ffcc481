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
