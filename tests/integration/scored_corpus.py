"""Reviews through the real pipeline (sentiment model, integrity engine, indexer with its score
hook) for the score, widget and browser tests: nothing is written into Elasticsearch by hand."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import redis
from elasticsearch import Elasticsearch

from tests.integration.helpers import Pipeline, wait_until
from trustscope.intake import Intake
from trustscope.samples import reviews
from trustscope.schemas import DocumentIn
from trustscope.scores import ScoreStore
from trustscope.settings import Settings

# Review texts a hostile reviewer might post; the widget must show them as text.
XSS_TEXTS = [
    '<script>alert("xss-script")</script>客服很好，到账快',
    '<img src=x onerror="alert(\'xss-img\')">体验不错，额度合适',
    '"><svg onload=alert("xss-svg")>利率透明，操作方便',
    '<a href="javascript:alert(\'xss-link\')">点我</a>审批速度快',
    "</textarea><iframe srcdoc=\"<script>alert('xss-frame')</script>\"></iframe>用了两年很稳定",
]


def hostile_reviews(platform: str, end: datetime | None = None) -> list[dict[str, Any]]:
    end = end or datetime.now(timezone.utc)
    return [{"kind": "review", "source": "xss-test", "source_id": f"x-{i}", "platforms": [platform],
             "author": {"id": f"xss-author-{i}", "review_count": 12,
                        "created_at": (end - timedelta(days=400 + i)).isoformat()},
             "rating": 5, "text": text, "created_at": (end - timedelta(minutes=5 + 90 * i)).isoformat()}
            for i, text in enumerate(XSS_TEXTS)]


def run_corpus(settings: Settings, rclient: redis.Redis, es: Elasticsearch, stages: list[Any],
               pipeline: Callable[[], Pipeline], n: int = 160, extra: list[dict[str, Any]] | None = None) -> ScoreStore:
    """Ingest ``n`` sample reviews (+ ``extra``) and wait until every stage has drained."""
    store = ScoreStore(rclient, settings.stream_prefix)
    stages[-1].scores = store  # the indexer's score hook, as services/indexer build() wires it
    items = reviews(n, seed=11, end=datetime.now(timezone.utc)) + list(extra or [])
    with pipeline():
        Intake(rclient, settings).submit([DocumentIn.model_validate(x) for x in items])
        wait_drained(settings, rclient, es, len(items))
    return store


def wait_drained(settings: Settings, rclient: redis.Redis, es: Elasticsearch, n: int,
                 timeout: float = 240) -> None:
    """Until ``n`` documents are indexed and every stage's stream is empty (then refreshed once
    more, so the caller's searches see all ``n``)."""
    alias = f"{settings.es_index_prefix}-docs"

    def settled() -> bool:
        es.indices.refresh(index=alias)
        return (es.count(index=alias)["count"] == n
                and all(rclient.xlen(f"{settings.stream_prefix}:stream:{s}") == 0
                        for s in ("ingest", "scored", "verified")))

    wait_until(settled, timeout=timeout)
    es.indices.refresh(index=alias)
