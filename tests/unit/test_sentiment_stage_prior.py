"""The sentiment stage applies the per-source prior adjustment, with its state in a real Redis."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import redis

from services.sentiment.stage import build
from trustscope.bus import Message
from trustscope.resilience import REDIS, dependency_of
from trustscope.schemas import Document, DocumentIn
from trustscope.settings import DEFAULT_MODEL_DIR, Settings

NEGATIVE = ["太坑了，提现一直不到账", "客服态度极差，再也不用了", "利息太高，乱扣费", "垃圾平台，骗钱的",
            "到账慢，体验很差", "一直打电话催收，烦死了"]


@pytest.fixture
def model_with_prior(tmp_path: Path) -> Path:
    """The shipped model (symlinked) plus a prior.json saying its training data was 50% positive."""
    for f in DEFAULT_MODEL_DIR.iterdir():
        (tmp_path / f.name).symlink_to(f)
    (tmp_path / "prior.json").write_text('{"train_prior": 0.5}')
    return tmp_path


@pytest.fixture
def client(redis_url):
    c = redis.Redis.from_url(redis_url)
    prefix = f"tst{uuid.uuid4().hex[:8]}"
    yield c, prefix
    for key in c.scan_iter(f"{prefix}:*"):
        c.delete(key)
    c.close()


def _msgs(source: str, n: int) -> list[Message]:
    docs = [DocumentIn(kind="review", source=source, source_id=str(i), rating=1, text=NEGATIVE[i % len(NEGATIVE)] + "！" * (i // 6),
                       created_at="2026-11-28T00:00:00Z").to_document([]) for i in range(n)]
    return [Message(stream="ingest", id=f"{i}-0", fields={"doc": d.to_json()}) for i, d in enumerate(docs)]


def _probs(out) -> list[float]:
    return [Document.model_validate_json(o["doc"]).sentiment.prob_positive for o in out]


def _settings(model: Path, prefix: str, **kw) -> Settings:
    return Settings(sentiment_model_dir=str(model), stream_prefix=prefix, torch_threads=1, **kw)


def test_stage_adjusts_a_negative_source_and_keeps_its_prior_in_redis(model_with_prior, client):
    c, prefix = client
    stage = build(_settings(model_with_prior, prefix), c)
    assert stage.prior_hook is not None
    stage.prior_hook.min_texts = 30  # 500 in service; a short test
    plain = build(_settings(model_with_prior, prefix, sentiment_prior_adjust=False), c)
    assert plain.prior_hook is None
    msgs = _msgs("negsource", 36)
    before = _probs(plain.process(msgs))
    after = _probs(stage.process(msgs))
    prior = float(c.get(f"{prefix}:sentiment:prior:negsource"))
    assert prior < 0.3  # a source of complaints: far fewer positives than training's 0.5
    assert c.llen(f"{prefix}:sentiment:posteriors:negsource") == 36
    assert all(a <= b + 1e-6 for a, b in zip(after, before)) and sum(after) < sum(before) - 0.01
    # a second stage (another worker) reads the same window: it adjusts from its first batch
    other = build(_settings(model_with_prior, prefix), c)
    other.prior_hook.min_texts = 30
    assert sum(_probs(other.process(msgs[:6]))) < sum(before[:6])


def test_no_prior_json_or_no_client_means_no_hook(model_with_prior, client):
    c, prefix = client
    assert build(_settings(DEFAULT_MODEL_DIR, prefix), c).prior_hook is None
    assert build(_settings(model_with_prior, prefix), None).prior_hook is None


def test_redis_down_during_adjustment_is_an_outage(model_with_prior):
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    stage = build(_settings(model_with_prior, "tstdown"), dead)
    with pytest.raises(redis.RedisError) as info:
        stage.process(_msgs("s", 3))
    assert dependency_of(info.value) == REDIS  # the worker waits it out and redoes the batch
