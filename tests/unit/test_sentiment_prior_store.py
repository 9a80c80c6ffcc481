"""The service's per-source prior adjustment, with its state in a real Redis (the test server)."""

from __future__ import annotations

import json

import uuid

import numpy as np
import pytest
import redis

from trustscope.sentiment.calibration import NeutralBand
from trustscope.sentiment.prior_store import PriorHook, load_train_prior
from trustscope.sentiment.result import SentimentResult


def _res(p: float) -> SentimentResult:
    return SentimentResult(label="x", score=2 * p - 1, prob_positive=p,
                           probs={"negative": 1 - p, "positive": p})


@pytest.fixture
def client(redis_url):
    c = redis.Redis.from_url(redis_url)
    c.prefix = f"tst{uuid.uuid4().hex[:8]}"
    yield c
    for key in c.scan_iter(f"{c.prefix}:*"):
        c.delete(key)
    c.close()


def _hook(client, min_texts=100):
    return PriorHook(client, client.prefix, train_prior=0.5, band=NeutralBand(0.4, 0.6), window=500,
                     min_texts=min_texts)


def test_a_source_with_more_positives_gets_its_prior_and_adjusted_results(client):
    hook = _hook(client)
    rng = np.random.default_rng(0)
    y = rng.random(400) < 0.85
    p = 1 / (1 + np.exp(-2 * rng.normal(np.where(y, 1.0, -1.0), 1.0)))
    out = hook.apply(["shop_a"] * 400, [_res(float(x)) for x in p])
    prior = float(client.get(f"{client.prefix}:sentiment:prior:shop_a"))
    assert 0.78 < prior < 0.92
    assert client.llen(f"{client.prefix}:sentiment:posteriors:shop_a") == 400
    assert all(o.prob_positive >= r - 1e-6 for o, r in zip(out, p))  # moved towards positive
    assert abs(out[0].probs["positive"] + out[0].probs["negative"] - 1) < 1e-5
    assert out[0].label in ("positive", "neutral", "negative")
    acc_before = ((p > 0.5) == y).mean()
    acc_after = (np.array([o.prob_positive for o in out]) > 0.5) == y
    assert acc_after.mean() > acc_before


def test_sources_are_kept_apart_and_few_texts_are_left_alone(client):
    hook = _hook(client)
    res = [_res(0.3)] * 20
    assert hook.apply(["new_src"] * 20, res) == res
    assert client.get(f"{client.prefix}:sentiment:prior:new_src") is None
    hook.apply(["a"] * 150 + ["b"] * 150, [_res(0.9)] * 150 + [_res(0.1)] * 150)
    assert float(client.get(f"{client.prefix}:sentiment:prior:a")) > 0.9
    assert float(client.get(f"{client.prefix}:sentiment:prior:b")) < 0.1


def test_unscored_results_pass_through(client, tmp_path):
    un = SentimentResult.unscored("not_chinese")
    assert _hook(client, min_texts=1).apply(["s"], [un]) == [un]
    assert load_train_prior(tmp_path) is None
    (tmp_path / "prior.json").write_text(json.dumps({"train_prior": 0.51}))
    assert load_train_prior(tmp_path) == 0.51
