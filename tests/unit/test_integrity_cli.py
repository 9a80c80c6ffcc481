"""`trustscope integrity check|simulate|evaluate` through the typer app."""

import gc

import orjson
import pytest
from typer.testing import CliRunner

from trustscope.cli.main import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def _restore_gc():
    """`integrity check` tunes the collector for its process (trustscope.gctune): here that is pytest's."""
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)
TPL = "在稳盈宝理财{n}个月了，收益稳定，提现{n}分钟就到账，客服很耐心，推荐给大家"


def _lines():
    rows = [{"id": f"c{i}", "platform": "p1", "author_id": f"n{i}", "rating": 5, "text": TPL.format(n=i),
             "created_at": 1735689600 + i * 60, "author_created_at": "2024-12-31T00:00:00Z"} for i in range(8)]
    rows.append({"id": "h1", "platform": "p1", "author_id": "old", "rating": 2, "text": "提现拖了一周才到",
                 "created_at": "2025-01-01T05:00:00Z", "author_created_at": 1600000000})
    out = [orjson.dumps(r).decode() for r in rows]
    out.insert(3, "{broken json")
    out.insert(5, orjson.dumps({"id": "x", "platform": "p1", "author_id": "a", "rating": 6, "text": "t",
                                "created_at": 1}).decode())
    return "\n".join(out) + "\n"


def test_check_writes_final_verdicts_scores_and_reports_bad_lines(tmp_path):
    scores = tmp_path / "scores.json"
    res = runner.invoke(app, ["integrity", "check", "--no-model", "--scores", str(scores)], input=_lines())
    assert res.exit_code == 0, res.output
    lines = [orjson.loads(line) for line in res.stdout.splitlines() if line.startswith("{\"id\"")]
    assert [d["id"] for d in lines] == [f"c{i}" for i in range(8)] + ["h1"]
    assert all(set(d) == {"id", "verdict", "fake_prob", "reasons"} for d in lines)
    verdicts = {d["id"]: d["verdict"] for d in lines}
    assert verdicts["c0"] == "fake" and verdicts["h1"] == "verified"  # the first copy is revised too
    errors = [orjson.loads(line) for line in res.stderr.splitlines() if line.startswith("{\"line\"")]
    assert [e["line"] for e in errors] == [4, 6] and "rating" in errors[1]["error"]
    body = orjson.loads(scores.read_bytes())
    assert body["p1"]["total"] == 9 and body["p1"]["verified"] == 1
    assert body["p1"]["excluded"] == {"near_duplicate": 8}
    assert body["p1"]["raw_average"] > body["p1"]["verified_score"]


def test_check_strict_fails_on_bad_lines():
    res = runner.invoke(app, ["integrity", "check", "--no-model", "--strict"], input="nope\n")
    assert res.exit_code == 1


def test_simulate_then_check_round_trip(tmp_path):
    sim = runner.invoke(app, ["integrity", "simulate", "--seed", "3", "--attack", "copy_paste", "--days", "20",
                              "--platforms", "3", "--builtin-texts", "--labels", str(tmp_path / "l.json")])
    assert sim.exit_code == 0
    labels = orjson.loads((tmp_path / "l.json").read_bytes())["labels"]
    res = runner.invoke(app, ["integrity", "check", "--no-model"], input=sim.stdout)
    assert res.exit_code == 0
    out = {d["id"]: d["verdict"] for d in map(orjson.loads, res.stdout.splitlines())}
    attack = [rid for rid, lab in labels.items() if lab == "copy_paste"]
    assert sum(out[r] != "verified" for r in attack) >= 0.95 * len(attack)


def test_evaluate_rejects_unknown_attack():
    res = runner.invoke(app, ["integrity", "evaluate", "--attack", "bogus"])
    assert res.exit_code != 0


@pytest.mark.slow
def test_evaluate_leave_one_family_out_prints_the_table(tmp_path):
    out = tmp_path / "lofo.json"
    res = runner.invoke(app, ["integrity", "evaluate", "--leave-one-family-out", "--attack", "copy_paste",
                              "--attack", "unmarked", "--days", "20", "--platforms", "3", "--builtin-texts",
                              "--no-fold-heads", "--json", str(out)])
    assert res.exit_code == 0, res.output
    assert "held-out" in res.output and "unmarked" in res.output and "ALL" in res.output
    body = orjson.loads(out.read_bytes())
    assert {r["family"] for r in body["held_out"]} == {"copy_paste", "unmarked", "ALL"}
    assert set(body["combinations"]) == {"copy_paste", "unmarked", "ALL (in-family)"}
    bad = runner.invoke(app, ["integrity", "evaluate", "--leave-one-family-out", "--baseline-src", str(tmp_path)])
    assert bad.exit_code != 0 and "baseline-src" in bad.output


def test_check_tunes_the_collector_once_loaded(monkeypatch):
    from trustscope.settings import get_settings

    monkeypatch.setenv("TS_GC_THRESHOLDS", "45000,15,15")
    get_settings.cache_clear()
    gc.set_threshold(700, 10, 10)
    try:
        res = runner.invoke(app, ["integrity", "check", "--no-model"], input=_lines())
    finally:
        get_settings.cache_clear()
    assert res.exit_code == 0, res.output
    assert gc.get_threshold() == (45000, 15, 15)
