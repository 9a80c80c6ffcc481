"""`trustscope rumour classify`, the contract for independent checks, with the shipped model:
one output line per input line in order, error lines for bad input, empty and huge events."""

from __future__ import annotations

import io
import json

import orjson
import pytest
from typer.testing import CliRunner

from trustscope.cli.main import app
from trustscope.cli.rumour_cmd import classify_stream
from trustscope.rumour.model import DEFAULT_DIR, RumourModel

pytestmark = pytest.mark.skipif(not (DEFAULT_DIR / "model.json").exists(),
                                reason=f"no shipped rumour model at {DEFAULT_DIR}")
T0 = 1_400_000_000


def _line(obj) -> str:
    return json.dumps(obj, ensure_ascii=False)


def _run(stdin: str, *args: str) -> list[dict]:
    res = CliRunner().invoke(app, ["rumour", "classify", *args], input=stdin)
    assert res.exit_code == 0, res.output
    return [json.loads(x) for x in res.stdout.splitlines()]


def test_empty_input_gives_empty_output():
    assert _run("") == []


def test_one_line_per_input_line_in_order_with_errors():
    good = {"id": "a", "text": "网传某地明天全面停水，请转发扩散！", "time": T0,
            "reposts": [{"mid": "1", "parent": "", "uid": "u", "text": "真的假的？求证", "time": T0 + 30}]}
    lines = [_line(good), "{not json", _line({"id": "b", "time": T0}), "", _line([1]),
             _line({"id": 7, "text": "今天天气不错", "time": str(T0)}), _line({**good, "id": "c"})]
    out = _run("\n".join(lines) + "\n")
    assert len(out) == len(lines)
    assert [o.get("id") for o in out] == ["a", None, "b", None, None, "7", "c"]
    assert out[1]["error"].startswith("line: not JSON")
    assert out[2]["error"] == "text: expected a string"
    assert "error" in out[3] and "error" in out[4]
    for o in (out[0], out[5], out[6]):
        assert set(o) == {"id", "label", "prob_rumour"}
        assert 0.0 <= o["prob_rumour"] <= 1.0
        assert o["label"] == ("rumour" if o["prob_rumour"] >= 0.5 else "non_rumour")
    assert out[0]["prob_rumour"] == out[6]["prob_rumour"]


def test_horizon_zero_is_the_post_alone_and_horizon_cuts_reposts():
    post = {"id": "x", "text": "紧急扩散：某平台老板跑路，大家赶紧提现", "time": T0,
            "user": {"followers": 300, "friends": 200, "verified": False, "verified_type": -1}}
    doubt = [{"mid": f"m{k}", "parent": "", "uid": f"u{k}", "text": "谣言吧，已辟谣", "time": T0 + 7200 + k}
             for k in range(50)]
    alone = _run(_line(post), "--horizon-hours", "0")[0]
    with_late = _run(_line({**post, "reposts": doubt}), "--horizon-hours", "0")[0]
    one_hour = _run(_line({**post, "reposts": doubt}), "--horizon-hours", "1")[0]
    quiet_hour = _run(_line(post), "--horizon-hours", "1")[0]
    full = _run(_line({**post, "reposts": doubt}))[0]
    assert alone == with_late  # reposts after 2 h are not seen at 0 h ...
    assert one_hour == quiet_hour  # ... nor at 1 h (where "no repost in an hour" is itself evidence)
    assert full["prob_rumour"] != one_hour["prob_rumour"]


def test_bad_horizon_and_missing_model_are_usage_errors(tmp_path):
    assert CliRunner().invoke(app, ["rumour", "classify", "--horizon-hours", "-1"], input="").exit_code == 2
    res = CliRunner().invoke(app, ["rumour", "classify", "--model", str(tmp_path)], input="")
    assert res.exit_code == 2 and "no rumour model" in res.output


@pytest.mark.slow
def test_huge_event_is_classified():
    reposts = [{"mid": f"m{k}", "parent": f"m{k // 3}" if k else "", "uid": f"u{k % 5000}",
                "text": "转发微博" if k % 2 else f"评论{k}真的吗", "time": T0 + k} for k in range(100_000)]
    big = orjson.dumps({"id": "big", "text": "网传消息", "time": T0, "reposts": reposts})
    out = io.BytesIO()
    model = RumourModel.load()
    counts = classify_stream(io.BytesIO(big + b"\n" + big + b"\n"), out, model, None, batch_size=1)
    rows = [orjson.loads(x) for x in out.getvalue().splitlines()]
    assert counts == {"ok": 2, "error": 0}
    assert [r["id"] for r in rows] == ["big", "big"] and 0 <= rows[0]["prob_rumour"] <= 1
    early = io.BytesIO()
    classify_stream(io.BytesIO(big + b"\n"), early, model, 1.0)
    assert orjson.loads(early.getvalue())["prob_rumour"] != rows[0]["prob_rumour"]


def _bge_ready() -> bool:
    """The shipped view's encoder with its ONNX export built (once per machine, needs torch)."""
    from trustscope.rumour.encoder import DEFAULT_ENCODER, MODELS_DIR
    from trustscope.sentiment.onnx_cache import cache_dir_for

    d = MODELS_DIR / DEFAULT_ENCODER
    return (d / "model.safetensors").exists() and (cache_dir_for(d) / "model.onnx").exists()


@pytest.mark.skipif(not _bge_ready(), reason="no cached ONNX export of models/trustscope-sentiment-bge-zh "
                    "(`trustscope model export-onnx --model models/trustscope-sentiment-bge-zh`)")
def test_encoder_view_at_horizon_zero_and_a_foreign_encoder_is_dropped():
    from trustscope.rumour.encoder import MODELS_DIR

    posts = [{"id": f"p{i}", "text": t, "time": T0} for i, t in enumerate(
        ["紧急扩散！网传某平台老板已跑路，提现困难", "今天平台发布了新版本，界面更好用了", "转发：某地明天停水，据说是真的"])]
    stdin = "\n".join(_line(p) for p in posts) + "\n"
    with_view = _run(stdin, "--horizon-hours", "0")
    without = _run(stdin, "--horizon-hours", "0", "--no-encoder")
    foreign = _run(stdin, "--horizon-hours", "0", "--encoder", str(MODELS_DIR / "trustscope-sentiment-zh"))
    assert [o["id"] for o in with_view] == ["p0", "p1", "p2"]
    assert [o["prob_rumour"] for o in with_view] != [o["prob_rumour"] for o in without]
    assert foreign == without  # other weights: the head is not fed their embeddings
    # bands without an encoder view do not depend on it
    assert _run(stdin, "--horizon-hours", "1") == _run(stdin, "--horizon-hours", "1", "--no-encoder")
