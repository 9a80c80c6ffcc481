"""Smoke test of the training pipeline: a --tiny configuration for a few steps on a tiny corpus.

Never retrains the shipped model: everything is written under tmp_path.
"""

from __future__ import annotations

import gzip
import json
import random

import pytest
from typer.testing import CliRunner

from trustscope.cli.main import app

POS = ["很好用", "速度快，服务好", "质量不错，推荐", "非常满意", "物美价廉，好评", "客服耐心，到账快"]
NEG = ["太差了", "一直闪退，垃圾", "质量很差，失望", "乱扣费，坑人", "物流慢，差评", "提现失败，骗子"]


def _write_corpus(tmp_path):
    rng = random.Random(0)
    rows = []
    for i in range(240):
        label = i % 2
        text = rng.choice(POS if label else NEG) + rng.choice(["", "！", "。", "，下次再说"])
        domain = "food_delivery" if i % 3 == 0 else "shopping/test"
        rows.append({"id": f"r{i}", "domain": domain, "label": label, "text": text})
    reviews = tmp_path / "reviews.jsonl.gz"
    with gzip.open(reviews, "wt", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    weibo = tmp_path / "weibo.jsonl.gz"
    with gzip.open(weibo, "wt", encoding="utf-8") as fh:
        fh.write(json.dumps({"id": "e1", "label": "rumour", "text": "转发这条微博 http://t.cn/x",
                             "reposts": [{"text": "真的吗"}, {"text": "假的吧"}]}, ensure_ascii=False) + "\n")
    return reviews, weibo


@pytest.mark.slow
def test_tiny_training_run(tmp_path):
    from trustscope.sentiment import load_classifier

    reviews, weibo = _write_corpus(tmp_path)
    out, work = tmp_path / "model", tmp_path / "work"
    result = CliRunner().invoke(app, [
        "model", "train", "--tiny", "--reviews", str(reviews), "--weibo", str(weibo),
        "--output-dir", str(out), "--work-dir", str(work), "--no-baselines", "--threads", "1",
    ])
    assert result.exit_code == 0, result.output
    for name in ("config.json", "model.safetensors", "vocab.txt", "calibration.json", "README.md",
                 "metrics.json"):
        assert (out / name).exists(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["pretrain"]["step"] == 5
    assert metrics["random_split"]["bert"]["all"]["n"] == 24
    assert metrics["heldout_domain"]["domain"] == "food_delivery"
    card = (out / "README.md").read_text()
    assert "trustscope model train" in card and "--tiny" in card
    clf = load_classifier(str(out))
    assert len(clf.classify(["很好用", "Hello"])) == 2


def test_missing_data_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(app, ["model", "train", "--tiny", "--reviews", str(tmp_path / "none.gz"),
                                      "--output-dir", str(tmp_path / "o"), "--work-dir", str(tmp_path / "w")])
    assert result.exit_code == 2 and "not found" in result.output


def test_shared_data_splits_are_fixed():
    from trustscope.sentiment.data import (
        REVIEWS_FILE,
        domain_split,
        load_reviews,
        random_split,
        shared_data_dir,
    )

    if not (shared_data_dir() / REVIEWS_FILE).exists():
        pytest.skip(f"shared data absent at {shared_data_dir()} (set TS_SHARED_DATA)")
    reviews = load_reviews()
    a, b = random_split(reviews), random_split(reviews)
    assert [r.id for r in a.test] == [r.id for r in b.test]
    assert len(a.test) == len(reviews) // 10
    assert not {r.id for r in a.test} & {r.id for r in a.train}
    d = domain_split(reviews, "food_delivery")
    assert all(r.domain == "food_delivery" for r in d.test)
    assert not any(r.domain == "food_delivery" for r in d.train + d.val)


@pytest.mark.slow
def test_resume_pretraining_continues_an_mlm_checkpoint(tmp_path):
    """--resume-pretraining keeps the checkpoint's tokenizer and size, starts from its weights, runs
    --pretrain-steps more MLM steps into WORK_DIR/mlm and records the cumulative steps and source."""
    import torch
    from safetensors.torch import load_file

    reviews, weibo = _write_corpus(tmp_path)
    common = ["--reviews", str(reviews), "--weibo", str(weibo), "--no-baselines", "--threads", "1",
              "--holdout-domain", ""]
    # --tiny fixes 5 MLM steps; the continuations spell out the same tiny settings with their own steps
    small = [*common, "--pretrain-batch", "8", "--pretrain-seq-len", "32", "--epochs", "1",
             "--batch-size", "8", "--eval-every", "5"]
    first = CliRunner().invoke(app, ["model", "train", "--tiny", *common, "--output-dir", str(tmp_path / "m1"),
                                     "--work-dir", str(tmp_path / "w1")])
    assert first.exit_code == 0, first.output
    src = tmp_path / "w1" / "mlm"
    before = load_file(str(src / "model.safetensors"))

    second = CliRunner().invoke(app, ["model", "train", *small, "--output-dir", str(tmp_path / "m2"),
                                      "--work-dir", str(tmp_path / "w2"), "--resume-pretraining", str(src),
                                      "--pretrain-steps", "3", "--hidden", "64"])  # size comes from src
    assert second.exit_code == 0, second.output
    mlm = tmp_path / "w2" / "mlm"
    meta = json.loads((mlm / "pretrain_meta.json").read_text())
    assert meta["step"] == 3 and meta["previous_steps"] == 5 and meta["total_steps"] == 8
    assert meta["resumed_from"] == str(src) and meta["size"]["hidden"] == 32
    assert meta["total_tokens_seen"] == meta["previous"]["tokens_seen"] + meta["tokens_seen"]
    assert (mlm / "vocab.txt").read_text() == (src / "vocab.txt").read_text()
    after = load_file(str(mlm / "model.safetensors"))
    key = "bert.embeddings.word_embeddings.weight"
    assert after[key].shape == before[key].shape and not torch.equal(after[key], before[key])
    metrics = json.loads((tmp_path / "m2" / "metrics.json").read_text())
    assert metrics["pretrain"]["total_steps"] == 8 and metrics["options"]["size"]["hidden"] == 32

    # chained: a second continuation counts from the cumulative total
    third = CliRunner().invoke(app, ["model", "train", *small, "--output-dir", str(tmp_path / "m3"),
                                     "--work-dir", str(tmp_path / "w3"), "--resume-pretraining", str(mlm),
                                     "--pretrain-steps", "2"])
    assert third.exit_code == 0, third.output
    meta3 = json.loads((tmp_path / "w3" / "mlm" / "pretrain_meta.json").read_text())
    assert meta3["previous_steps"] == 8 and meta3["total_steps"] == 10


def test_resume_pretraining_refuses_bad_sources(tmp_path):
    reviews, weibo = _write_corpus(tmp_path)
    base = ["model", "train", "--tiny", "--reviews", str(reviews), "--weibo", str(weibo),
            "--output-dir", str(tmp_path / "o"), "--work-dir", str(tmp_path / "w")]
    missing = CliRunner().invoke(app, [*base, "--resume-pretraining", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "not found" in missing.output
    both = CliRunner().invoke(app, [*base, "--resume-pretraining", str(tmp_path), "--pretrained", str(tmp_path)])
    assert both.exit_code == 2 and "exclude each other" in both.output


@pytest.mark.slow
def test_review_only_pretraining_and_frozen_embeddings(tmp_path):
    """--pretrain-corpus reviews never reads the Weibo corpus; --freeze-embeddings leaves the
    fine-tuned model's token embeddings exactly as pre-training left them (the rest trains, also
    after a linear-probe phase and with token dropout)."""
    import torch
    from safetensors.torch import load_file

    reviews, _ = _write_corpus(tmp_path)
    out, work = tmp_path / "model", tmp_path / "work"
    result = CliRunner().invoke(app, [
        "model", "train", "--tiny", "--reviews", str(reviews), "--weibo", str(tmp_path / "absent.gz"),
        "--pretrain-corpus", "reviews", "--freeze-embeddings", "--output-dir", str(out),
        "--work-dir", str(work), "--no-baselines", "--threads", "1",
        "--token-mask-prob", "0.2", "--probe-epochs", "0.5",
    ])
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data"]["pretrain_corpus"] == "reviews" and metrics["data"]["weibo_texts"] == 0
    assert metrics["options"]["finetune"]["token_mask_prob"] == 0.2
    assert metrics["options"]["finetune"]["probe_epochs"] == 0.5
    card = (out / "README.md").read_text()
    assert "MLM phase 1 (review texts only)" in card and "Weibo" not in card.split("## Training")[0]
    mlm = load_file(str(work / "mlm" / "model.safetensors"))
    tuned = load_file(str(out / "model.safetensors"))
    key = "bert.embeddings.word_embeddings.weight"
    assert torch.equal(mlm[key], tuned[key])
    layer = "bert.encoder.layer.0.attention.self.query.weight"
    assert not torch.equal(mlm[layer], tuned[layer])
    assert (work / "ft_heldout" / "model.safetensors").exists()  # the held-out model is kept too

    bad = CliRunner().invoke(app, ["model", "train", "--tiny", "--reviews", str(reviews),
                                   "--pretrain-corpus", "news", "--output-dir", str(tmp_path / "o"),
                                   "--work-dir", str(tmp_path / "w")])
    assert bad.exit_code == 2 and "pretrain corpus" in bad.output
