"""The accurate option, models/trustscope-sentiment-bge-zh: loads like any checkpoint, ONNX built in the cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trustscope.settings import REPO_DIR, get_settings

BGE_DIR = REPO_DIR / "models" / "trustscope-sentiment-bge-zh"
FIXTURE = REPO_DIR / "tests" / "fixtures" / "sentiment_zh_fixture.jsonl"


def _fixture() -> list[dict]:
    return [json.loads(x) for x in FIXTURE.read_text(encoding="utf-8").splitlines() if x.strip()]


def test_committed_files_fit_the_budget_and_no_onnx_is_committed():
    files = [f for f in BGE_DIR.iterdir() if f.is_file()]
    assert sum(f.stat().st_size for f in files) <= 60_000_000
    assert not [f.name for f in files if f.suffix == ".onnx"]
    assert {"config.json", "model.safetensors", "tokenizer.json", "prior.json", "calibration.json",
            "README.md"} <= {f.name for f in files}


@pytest.mark.slow
def test_fixture_accuracy_through_the_cached_onnx_export():
    pytest.importorskip("torch", reason="building the ONNX export needs torch (trustscope[train])")
    from trustscope.sentiment import load_classifier
    from trustscope.sentiment.onnx_cache import cache_dir_for

    clf = load_classifier(str(BGE_DIR), threads=1)
    assert clf.backend == "onnx"
    assert (cache_dir_for(BGE_DIR) / "model.onnx").exists()  # built outside the clone
    assert not (BGE_DIR / "model.onnx").exists()
    rows = _fixture()
    res = clf.classify([r["text"] for r in rows])
    right = sum((x.prob_positive > 0.5) == bool(r["label"]) for r, x in zip(rows, res))
    assert right >= 54, f"{right}/{len(rows)}"


@pytest.mark.slow
def test_loads_with_auto_model_for_sequence_classification():
    torch = pytest.importorskip("torch", reason="transformers loading needs torch (trustscope[train])")
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(str(BGE_DIR), local_files_only=True)
    tok = AutoTokenizer.from_pretrained(str(BGE_DIR), local_files_only=True)
    with torch.inference_mode():
        logits = model(**tok(["提现秒到账，体验非常好", "客服不理人，钱一直取不出来"], return_tensors="pt",
                             padding=True)).logits
    assert model.config.id2label[1] == "positive"
    assert logits.argmax(-1).tolist() == [1, 0]


def test_without_torch_and_without_export_the_error_says_how_to_export(tmp_path, monkeypatch):
    import importlib.util

    from trustscope.sentiment import load_classifier

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    monkeypatch.setenv("TS_SENTIMENT_ONNX_CACHE_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        with pytest.raises(FileNotFoundError, match=r"trustscope model export-onnx --model .*bge-zh"):
            load_classifier(str(BGE_DIR), threads=1)
    finally:
        get_settings.cache_clear()
    assert not list(Path(tmp_path).iterdir())
