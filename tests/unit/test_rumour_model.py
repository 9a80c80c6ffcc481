"""The rumour model: training on a small synthetic set, the numpy export giving the fitted
pipeline's probabilities, save/load, and the missing-author stacker."""

from __future__ import annotations

import random

import numpy as np
import pytest

pytest.importorskip("sklearn")

from trustscope.rumour import training as T  # noqa: E402
from trustscope.rumour.events import parse_event  # noqa: E402
from trustscope.rumour.model import RumourModel  # noqa: E402

T0 = 1_400_000_000
HORIZONS = (0.0, 1.0, None)


def synthetic(n: int = 80, seed: int = 1) -> list[dict]:
    """Rumours: '网传' posts, fast spread, doubting comments; the others: '发布' posts, calm replies."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        rumour = i % 2 == 0
        words = ["网传", "紧急扩散", "据说"] if rumour else ["发布", "通知", "今日"]
        text = "".join(rng.choice(words) for _ in range(4)) + f"第{i}条"
        replies = ["真的假的", "求证", "已辟谣", "[泪]"] if rumour else ["支持", "转发微博", "好的"]
        step = 60 if rumour else 600
        reposts = [{"mid": f"m{i}_{k}", "parent": f"m{i}_{k - 1}" if rumour and k else "", "uid": f"u{k}",
                    "text": rng.choice(replies), "time": T0 + step * (k + 1)} for k in range(rng.randint(3, 30))]
        user = "empty" if i % 10 == 9 else {"followers": rng.randint(10, 10**6), "verified": not rumour,
                                            "verified_type": 0, "friends": 100, "time": T0 - 86400 * 100}
        out.append({"id": f"ev{i}", "label": "rumour" if rumour else "non_rumour", "text": text, "time": T0,
                    "user": user, "reposts": reposts})
    return out


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    rows = synthetic()
    events = [parse_event(r) for r in rows]
    y = np.asarray([1 if r["label"] == "rumour" else 0 for r in rows])
    ds = T.Dataset.build(events, y, HORIZONS)
    stack = T.fit_stack(ds, np.arange(len(events)), HORIZONS, inner_folds=3)
    model = stack.export(ds, {"engine": "rumour-test"})
    directory = tmp_path_factory.mktemp("rumour-model")
    model.save(directory)
    return ds, stack, RumourModel.load(directory), events, y


@pytest.mark.parametrize("h", HORIZONS)
def test_exported_model_matches_fitted_pipeline(fitted, h):
    ds, stack, model, events, _ = fitted
    idx = np.arange(len(events))
    want = stack.predict(ds, T.AugRows(idx, [h] * len(idx)))
    got = model.predict_proba([e.truncated(h) for e in events])
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_separates_the_synthetic_classes_and_uses_spread(fitted):
    _, _, model, events, y = fitted
    p_full = model.predict_proba(events)
    assert ((p_full >= 0.5) == (y == 1)).mean() >= 0.95
    assert model.engine == "rumour-test"


def test_missing_author_uses_the_no_author_stacker(fitted):
    _, _, model, events, _ = fitted
    assert model.stacker_no_author.cols.size == model.stacker.cols.size - 11
    names = set(model.stacker_no_author.names)
    assert "has_author" not in names and "log_followers" not in names
    ev = events[0]
    anon = parse_event({"text": ev.text, "time": ev.time})
    z = model.stack_inputs([anon])
    assert model.predict_proba([anon])[0] == pytest.approx(1 / (1 + np.exp(-model.stacker_no_author.logit(z)[0])))


def test_load_refuses_a_foreign_directory(tmp_path):
    with pytest.raises(FileNotFoundError):
        RumourModel.load(tmp_path)
    (tmp_path / "model.json").write_text('{"format": "other"}')
    with pytest.raises(ValueError, match="format"):
        RumourModel.load(tmp_path)


def test_near_duplicate_groups_and_metrics():
    events = [parse_event({"text": t, "time": T0}) for t in
              ["某某平台今日宣布停止兑付，请大家转告", "某某平台今日宣布停止兑付，请大家转告！", "完全不同的一条内容"]]
    g = T.near_duplicate_groups(events, 0.8)
    assert g[0] == g[1] != g[2]
    m = T.metrics(np.array([1, 0, 1, 0]), np.array([0.9, 0.2, 0.4, 0.6]))
    assert m["accuracy"] == 0.5 and m["f1"] == pytest.approx(0.5)
