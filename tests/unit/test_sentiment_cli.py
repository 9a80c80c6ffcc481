"""`trustscope sentiment classify`: one output line per input line, bad lines become error lines."""

from __future__ import annotations

import io
import json

import pytest
from typer.testing import CliRunner

from trustscope.cli.main import app
from trustscope.settings import DEFAULT_MODEL_DIR

LINES = [
    json.dumps({"id": "a", "text": "提现很快，客服也很耐心，好评"}, ensure_ascii=False),
    json.dumps({"id": "b", "text": ""}),
    json.dumps({"id": "c", "text": "I love this app"}),
    json.dumps({"id": "d", "text": "平台乱扣费，" * 4000 + "太坑了"}, ensure_ascii=False),
    "{not json",
    "",
    json.dumps({"id": "e"}),
    json.dumps({"id": "f", "text": ["x"]}),
    json.dumps(["just", "a", "list"]),
    json.dumps({"text": "没有id也可以，很好用"}, ensure_ascii=False),
]


def _run(stdin: str, *args: str):
    result = CliRunner().invoke(app, ["sentiment", "classify", "--model", str(DEFAULT_MODEL_DIR), *args],
                                input=stdin)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_classify_mixed_input():
    out = _run("\n".join(LINES) + "\n", "--batch", "3")
    assert len(out) == len(LINES)
    assert out[0]["id"] == "a" and out[0]["label"] in ("positive", "neutral") and "error" not in out[0]
    assert set(out[0]) == {"id", "label", "score", "prob_positive"}
    assert out[1] == {"id": "b", "label": "neutral", "score": 0.0, "prob_positive": 0.5,
                      "unscored": True, "reason": "empty"}
    assert out[2]["unscored"] is True and out[2]["reason"] == "not_chinese"
    assert out[3]["id"] == "d" and -1 <= out[3]["score"] <= 1
    assert out[4]["line"] == 5 and "invalid JSON" in out[4]["error"]
    assert out[5] == {"line": 6, "error": "blank line"}
    assert out[6]["line"] == 7 and out[6]["id"] == "e" and "missing" in out[6]["error"]
    assert out[7]["line"] == 8 and "string" in out[7]["error"]
    assert out[8]["line"] == 9 and "object" in out[8]["error"]
    assert out[9]["id"] is None and out[9]["label"] in ("positive", "neutral", "negative")


def test_classify_empty_input():
    assert _run("") == []


def test_classify_bad_model_dir(tmp_path):
    result = CliRunner().invoke(app, ["sentiment", "classify", "--model", str(tmp_path)], input="")
    assert result.exit_code == 2


def test_classify_stream_in_bounded_batches():
    """classify_stream asks the classifier for at most ``batch`` texts at a time."""
    from trustscope.cli.sentiment_cmd import classify_stream
    from trustscope.sentiment.result import SentimentResult

    class Fake:
        def __init__(self) -> None:
            self.sizes: list[int] = []

        def classify(self, texts):
            self.sizes.append(len(texts))
            return [SentimentResult("positive", 0.5, 0.75, {}) for _ in texts]

    fake = Fake()
    src = io.StringIO("".join(json.dumps({"id": i, "text": "好"}) + "\n" for i in range(25)))
    dst = io.StringIO()
    counts = classify_stream(fake, src, dst, batch=10)
    assert fake.sizes == [10, 10, 5] and counts["ok"] == 25
    assert [json.loads(x)["id"] for x in dst.getvalue().splitlines()] == list(range(25))


@pytest.mark.parametrize("bad", ["null", "123", '"text"', "{\"text\": \"a\"", "\ufeff{}"])
def test_odd_json_values(bad):
    out = _run(bad + "\n")
    assert len(out) == 1 and "error" in out[0] and out[0]["line"] == 1


def test_lone_surrogate_escapes():
    out = _run(json.dumps({"id": "\ud800", "text": "\ud800很好用"}) + "\n")
    assert len(out) == 1 and out[0]["id"] == "\ud800" and "error" not in out[0]
