"""Text checks, head+tail truncation, neutral-band calibration and metrics."""

from __future__ import annotations

import json

import pytest

from trustscope.sentiment.calibration import (
    NeutralBand,
    fit_neutral_band,
    load_band,
    save_band,
)
from trustscope.sentiment.metrics import binary_metrics, per_domain
from trustscope.sentiment.textprep import clip_chars, head_tail, unscored_reason


@pytest.mark.parametrize("text,reason", [
    ("", "empty"), ("   \n", "empty"), ("Great app, fast payouts", "not_chinese"),
    ("12345 !!! 😀", "not_chinese"), ("좋은 앱입니다", "not_chinese"), ("とても使いやすいです", "not_chinese"),
    ("很好用", None), ("App很好用", None), ("这个iPhone app的UI设计很棒", None), ("利率3.5%", None),
])
def test_unscored_reason(text, reason):
    assert unscored_reason(text) == reason


def test_head_tail_keeps_both_ends():
    ids = list(range(100))
    out = head_tail(ids, 30)
    assert len(out) == 30 and out[:10] == list(range(10)) and out[-20:] == list(range(80, 100))
    assert head_tail(ids[:5], 30) == ids[:5]


def test_clip_chars_bounds_long_text():
    text = "好" * 100_000 + "差"
    clipped = clip_chars(text, 128)
    assert len(clipped) < 2 * 128 * 4 + 2 and clipped.endswith("差")
    assert clip_chars("短文本", 128) == "短文本"


def test_fit_neutral_band_symmetric_and_bounded():
    # confident and right far from 0.5, coin flips near it
    probs = [0.99] * 400 + [0.01] * 400 + [0.52, 0.48] * 40
    labels = [1] * 400 + [0] * 400 + [0, 1] * 40
    band = fit_neutral_band(probs, labels)
    assert band.low < 0.5 < band.high and abs((band.low + band.high) - 1.0) < 1e-6
    assert band.label(0.5) == "neutral" and band.label(0.99) == "positive" and band.label(0.01) == "negative"
    assert band.val_neutral_fraction <= 0.11


def test_band_roundtrip_and_default(tmp_path):
    assert load_band(tmp_path).method.startswith("default")
    save_band(NeutralBand(low=0.4, high=0.6, method="test"), tmp_path)
    assert load_band(tmp_path).high == 0.6
    (tmp_path / "calibration.json").write_text(json.dumps({"low": 0.9, "high": 0.1}))
    with pytest.raises(ValueError):
        load_band(tmp_path)


def test_metrics():
    m = binary_metrics([1, 1, 0, 0], [1, 0, 0, 0])
    assert m["accuracy"] == 0.75 and round(m["f1_pos"], 4) == 0.6667 and m["f1_neg"] == 0.8
    d = per_domain(["a", "a", "b", "b"], [1, 1, 0, 0], [1, 0, 0, 0])
    assert d["all"]["n"] == 4 and d["a"]["accuracy"] == 0.5 and d["b"]["accuracy"] == 1.0
